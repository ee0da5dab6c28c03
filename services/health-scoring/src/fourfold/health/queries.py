"""Read-side SQL for the API: what the consumer and scheduler wrote, filtered and paged."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.health.errors import InvalidCursor
from fourfold.health.models import customers, score_history
from fourfold.health.schemas import SortKey, SortOrder

HISTORY_LIMIT = 5000
"""At most this many points per history answer (more than a year of daily points)."""

_SORT_COLUMNS = {
    SortKey.SCORE: (customers.c.score, Decimal(-1)),
    SortKey.ARR: (customers.c.arr_amount, Decimal(-1)),
    SortKey.TREND: (customers.c.trend_7d, Decimal(-1000)),
}
"""Sort column and the value a missing one sorts as (lowest), so keyset paging stays total."""


async def customer_row(session: AsyncSession, customer_id: str) -> Any | None:
    """The current row of one customer, or None."""
    query = select(customers).where(customers.c.customer_id == customer_id)
    return (await session.execute(query)).first()


async def history_points(
    session: AsyncSession, customer_id: str, start: datetime, end: datetime
) -> Sequence[Any]:
    query = (
        select(score_history)
        .where(
            score_history.c.customer_id == customer_id,
            score_history.c.at >= start,
            score_history.c.at <= end,
        )
        .order_by(score_history.c.at, score_history.c.id)
        .limit(HISTORY_LIMIT)
    )
    return (await session.execute(query)).all()


def encode_cursor(sort: SortKey, order: SortOrder, value: Decimal, customer_id: str) -> str:
    raw = json.dumps({"s": sort.value, "o": order.value, "v": str(value), "id": customer_id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: SortKey, order: SortOrder) -> tuple[Decimal, str]:
    """The (sort value, customer id) a page starts after; InvalidCursor names the field."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        doc = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value, customer_id = Decimal(doc["v"]), str(doc["id"])
        same_listing = doc["s"] == sort.value and doc["o"] == order.value
    except (ValueError, KeyError, TypeError, InvalidOperation, binascii.Error):
        raise InvalidCursor("not a cursor this API returned") from None
    if not same_listing:
        raise InvalidCursor("cursor belongs to another sort or order; start without it")
    return value, customer_id


async def book_page(
    session: AsyncSession,
    *,
    partner_id: str,
    band: str | None,
    step: str | None,
    sort: SortKey,
    order: SortOrder,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Any], str | None]:
    """One page of a partner's customers and the cursor of the next page (None: last)."""
    column, missing = _SORT_COLUMNS[sort]
    key = func.coalesce(column, missing)
    conditions: list[ColumnElement[bool]] = [customers.c.partner_id == partner_id]
    if band is not None:
        conditions.append(customers.c.band == band)
    if step is not None:
        conditions.append(customers.c.step == step)
    if cursor is not None:
        value, after_id = decode_cursor(cursor, sort, order)
        if order is SortOrder.ASC:
            conditions.append(
                or_(key > value, and_(key == value, customers.c.customer_id > after_id))
            )
        else:
            conditions.append(
                or_(key < value, and_(key == value, customers.c.customer_id < after_id))
            )
    ordering = (
        (key.asc(), customers.c.customer_id.asc())
        if order is SortOrder.ASC
        else (key.desc(), customers.c.customer_id.desc())
    )
    query = (
        select(customers, key.label("sort_key"))
        .where(*conditions)
        .order_by(*ordering)
        .limit(limit + 1)
    )
    rows = (await session.execute(query)).all()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(sort, order, Decimal(last.sort_key), last.customer_id)


async def summary_groups(session: AsyncSession, partner_id: str) -> Sequence[Any]:
    """Per band, step and currency: customers, ARR, score sums (for the plain and weighted
    means), in one GROUP BY."""
    scored = customers.c.score.is_not(None)
    query = (
        select(
            customers.c.band,
            customers.c.step,
            customers.c.arr_currency,
            func.count().label("customers"),
            func.sum(customers.c.arr_amount).label("arr"),
            func.count(customers.c.score).label("scored"),
            func.sum(customers.c.score).label("score_sum"),
            func.sum(customers.c.score * customers.c.arr_amount).label("weighted_sum"),
            func.sum(customers.c.arr_amount).filter(scored).label("scored_arr"),
        )
        .where(customers.c.partner_id == partner_id)
        .group_by(customers.c.band, customers.c.step, customers.c.arr_currency)
    )
    return (await session.execute(query)).all()
