"""Read-side SQL for the API: what the consumer, scheduler and worker wrote, filtered and
paged by keyset (newest first; the id breaks ties)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.db.bulk import any_of
from fourfold.notifications.errors import InvalidCursor
from fourfold.notifications.models import (
    channels,
    deliveries,
    delivery_attempts,
    digest_items,
    nudges,
)
from fourfold.service.text import storable


def encode_cursor(at: datetime, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), key]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (instant, id) a page starts after. Only what `encode_cursor` writes decodes: an
    aware instant PostgreSQL can compare and an id string it can store; else InvalidCursor."""
    try:
        at, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        instant = datetime.fromisoformat(at)
        if instant.tzinfo is None or not isinstance(key, str) or not storable(key):
            raise ValueError("not a cursor")
        return instant.astimezone(UTC), key
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError):
        raise InvalidCursor("not a cursor this service returned") from None


async def nudge_row(session: AsyncSession, nudge_id: str) -> Any | None:
    return (await session.execute(select(nudges).where(nudges.c.nudge_id == nudge_id))).first()


async def feed(
    session: AsyncSession,
    *,
    partner_id: str,
    status: str | None,
    rule: str | None,
    customer_id: str | None,
    cursor: str | None,
    limit: int,
) -> Sequence[Any]:
    """One page of a partner's nudges, newest first."""
    query = select(nudges).where(nudges.c.partner_id == partner_id)
    if status is not None:
        query = query.where(nudges.c.status == status)
    if rule is not None:
        query = query.where(nudges.c.rule == rule)
    if customer_id is not None:
        query = query.where(nudges.c.customer_id == customer_id)
    if cursor is not None:
        at, key = decode_cursor(cursor)
        query = query.where(tuple_(nudges.c.raised_at, nudges.c.nudge_id) < tuple_(at, key))
    query = query.order_by(nudges.c.raised_at.desc(), nudges.c.nudge_id.desc()).limit(limit + 1)
    return list((await session.execute(query)).all())


def _deliveries() -> Select[Any]:  # each delivery with its channel's kind
    return select(deliveries, channels.c.kind.label("channel_kind")).join(
        channels, channels.c.channel_id == deliveries.c.channel_id
    )


async def deliveries_of_nudge(session: AsyncSession, nudge_id: str) -> Sequence[Any]:
    """Its own deliveries and those of every digest that carried it (a held nudge's only)."""
    digests_of_nudge = select(digest_items.c.digest_id).where(digest_items.c.nudge_id == nudge_id)
    query = (
        _deliveries()
        .where(or_(deliveries.c.nudge_id == nudge_id, deliveries.c.digest_id.in_(digests_of_nudge)))
        .order_by(deliveries.c.created_at)
    )
    return list((await session.execute(query)).all())


async def attempts_of(session: AsyncSession, delivery_ids: Sequence[str]) -> dict[str, list[Any]]:
    if not delivery_ids:
        return {}
    query = (
        select(delivery_attempts)
        .where(delivery_attempts.c.delivery_id == any_of(delivery_ids))
        .order_by(delivery_attempts.c.id)
    )
    found: dict[str, list[Any]] = {}
    for row in (await session.execute(query)).all():
        found.setdefault(row.delivery_id, []).append(row)
    return found


async def delivery_log(
    session: AsyncSession,
    *,
    status: str | None,
    partner_id: str | None,
    channel_id: str | None,
    cursor: str | None,
    limit: int,
) -> Sequence[Any]:
    """One page of deliveries, newest first (the admins' log and dead letters)."""
    query = _deliveries()
    if status is not None:
        query = query.where(deliveries.c.status == status)
    if partner_id is not None:
        query = query.where(deliveries.c.partner_id == partner_id)
    if channel_id is not None:
        query = query.where(deliveries.c.channel_id == channel_id)
    if cursor is not None:
        at, key = decode_cursor(cursor)
        query = query.where(
            tuple_(deliveries.c.created_at, deliveries.c.delivery_id) < tuple_(at, key)
        )
    query = query.order_by(deliveries.c.created_at.desc(), deliveries.c.delivery_id.desc()).limit(
        limit + 1
    )
    return list((await session.execute(query)).all())


async def delivery_row(session: AsyncSession, delivery_id: str) -> Any | None:
    query = _deliveries().where(deliveries.c.delivery_id == delivery_id)
    return (await session.execute(query)).first()
