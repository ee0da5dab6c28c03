"""Read-side SQL for the API: what the consumer and scheduler wrote, filtered and paged."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Numeric, String, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.health.errors import InvalidCursor
from fourfold.health.models import customers, score_history
from fourfold.health.schemas import SortKey, SortOrder
from fourfold.service.text import storable

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


class Position(NamedTuple):
    """Where a page starts after: the sort value, its currency (ARR only; "" otherwise and for
    a customer without ARR) and the customer id that breaks ties."""

    value: Decimal
    customer_id: str
    currency: str = ""


def encode_cursor(
    sort: SortKey, order: SortOrder, value: Decimal, customer_id: str, currency: str = ""
) -> str:
    doc = {"s": sort.value, "o": order.value, "v": str(value), "id": customer_id}
    if sort is SortKey.ARR:
        doc["c"] = currency
    raw = json.dumps(doc)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: SortKey, order: SortOrder) -> Position:
    """The position a page starts after; InvalidCursor names the field."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        doc = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value, customer_id = Decimal(doc["v"]), str(doc["id"])
        same_listing = doc["s"] == sort.value and doc["o"] == order.value
        currency = doc["c"] if sort is SortKey.ARR else ""
        if not isinstance(currency, str):
            raise TypeError("currency")
    except (ValueError, KeyError, TypeError, InvalidOperation, binascii.Error):
        raise InvalidCursor("not a cursor this API returned") from None
    if not same_listing:
        raise InvalidCursor("cursor belongs to another sort or order; start without it")
    if not _storable(value) or not (storable(customer_id) and storable(currency)):
        raise InvalidCursor("not a cursor this API returned")
    return Position(value, customer_id, currency)


CURSOR_MAX_DIGITS = 18
"""Sort values in a cursor stay below 10**18 (the ARR column's integer digits)."""
CURSOR_MAX_SCALE = 8
"""… and carry at most this many fractional digits (more than any sort column keeps)."""


def _storable(value: Decimal) -> bool:
    """A finite value PostgreSQL can compare with a sort column: a crafted "1E+999999999",
    NaN or Infinity would fail in the database (500) instead of answering 400."""
    if not value.is_finite():
        return False
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        return False
    return exponent >= -CURSOR_MAX_SCALE and (
        value.is_zero() or value.adjusted() < CURSOR_MAX_DIGITS
    )


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
    # ARR amounts of different currencies are not comparable: ARR sorts by (currency, amount)
    currency = func.coalesce(customers.c.arr_currency, "") if sort is SortKey.ARR else literal("")
    conditions: list[ColumnElement[bool]] = [customers.c.partner_id == partner_id]
    if band is not None:
        conditions.append(customers.c.band == band)
    if step is not None:
        conditions.append(customers.c.step == step)
    if cursor is not None:
        after = decode_cursor(cursor, sort, order)
        here = tuple_(currency, key, customers.c.customer_id)
        there = tuple_(
            literal(after.currency, String()),
            literal(after.value, Numeric()),
            literal(after.customer_id, String()),
        )
        conditions.append(here > there if order is SortOrder.ASC else here < there)
    columns = (currency, key, customers.c.customer_id)
    ordering = [c.asc() if order is SortOrder.ASC else c.desc() for c in columns]
    query = (
        select(customers, key.label("sort_key"), currency.label("sort_currency"))
        .where(*conditions)
        .order_by(*ordering)
        .limit(limit + 1)
    )
    rows = (await session.execute(query)).all()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    next_cursor = encode_cursor(
        sort, order, Decimal(last.sort_key), last.customer_id, last.sort_currency
    )
    return rows[:limit], next_cursor


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
