"""A partner's channels: create (a webhook's secret shown once), change, rotate, disable.

The in-app feed is always on and needs no row. A webhook's secrets live only in the
database and leave it once, in the answer that created or rotated them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.notifications.delivery.signing import generate_secret, new_secret_entry, rotated
from fourfold.notifications.models import channels


async def create(
    session: AsyncSession, *, partner_id: str, kind: str, target: str, now: datetime
) -> tuple[Any, str | None]:
    """A new enabled channel and, for a webhook, its secret (returned only here)."""
    secret = generate_secret() if kind == "webhook" else None
    channel_id = f"ch_{uuid.uuid4().hex}"
    row = {
        "channel_id": channel_id,
        "partner_id": partner_id,
        "kind": kind,
        "target": target,
        "enabled": True,
        "disabled_reason": None,
        "secrets": [] if secret is None else [new_secret_entry(secret, now)],
        "created_at": now,
        "updated_at": now,
    }
    await session.execute(insert(channels).values(**row))
    return await get(session, channel_id), secret


async def get(session: AsyncSession, channel_id: str, *, lock: bool = False) -> Any | None:
    query = select(channels).where(channels.c.channel_id == channel_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def of_partner(session: AsyncSession, partner_id: str) -> list[Any]:
    query = (
        select(channels)
        .where(channels.c.partner_id == partner_id)
        .order_by(channels.c.created_at, channels.c.channel_id)
    )
    return list((await session.execute(query)).all())


async def change(session: AsyncSession, channel_id: str, *, now: datetime, **values: Any) -> Any:
    if values.get("enabled"):
        values["disabled_reason"] = None
    await session.execute(
        update(channels).where(channels.c.channel_id == channel_id).values(**values, updated_at=now)
    )
    return await get(session, channel_id)


async def rotate(
    session: AsyncSession, row: Any, *, now: datetime, overlap: timedelta
) -> tuple[Any, str]:
    """A new secret for a webhook channel; the old one keeps signing for `overlap`."""
    secret = generate_secret()
    kept = rotated(row.secrets, secret=secret, now=now, overlap=overlap)
    await session.execute(
        update(channels)
        .where(channels.c.channel_id == row.channel_id)
        .values(secrets=kept, updated_at=now)
    )
    return await get(session, row.channel_id), secret


async def disable(session: AsyncSession, channel_id: str, *, reason: str, now: datetime) -> None:
    """Stop delivering to a channel (a 410 Gone, or an admin), keeping its history."""
    await session.execute(
        update(channels)
        .where(channels.c.channel_id == channel_id)
        .values(enabled=False, disabled_reason=reason, updated_at=now)
    )
