"""Disputes: a partner questions an entry with a comment; an admin accepts it (an
adjustment entry in the open period, referencing the disputed entry) or rejects it with a
reason. Both sides read and add to the thread; every message is a new row."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.auth import Principal
from fourfold.events.money import minor_unit
from fourfold.incentives import queries, repository
from fourfold.incentives.domain.entries import adjustment_of, period_of
from fourfold.incentives.domain.money import is_rounded
from fourfold.incentives.errors import Conflict, DisputeNotFound, EntryNotFound, InvalidField
from fourfold.incentives.ledger import append_entries
from fourfold.kafka.outbox import EncodedEvent


async def open_dispute(
    session: AsyncSession,
    *,
    partner_id: str,
    entry_id: str,
    comment: str,
    by: Principal,
    now: datetime,
) -> str:
    """Open a dispute on one of the partner's entries; another partner's entry is a 404."""
    row = await queries.entry(session, entry_id, now)
    if row is None or row.partner_id != partner_id:
        raise EntryNotFound()
    dispute_id = str(uuid.uuid4())
    await session.execute(
        text(
            "INSERT INTO disputes (dispute_id, partner_id, entry_id, opened_by, opened_at) "
            "VALUES (:d, :p, :e, :by, :at)"
        ),
        {"d": dispute_id, "p": partner_id, "e": entry_id, "by": by.subject, "at": now},
    )
    await _message(session, dispute_id, "opened", by, comment, now)
    return dispute_id


async def _message(
    session: AsyncSession,
    dispute_id: str,
    kind: str,
    by: Principal,
    body: str,
    now: datetime,
    adjustment: str | None = None,
) -> None:
    await session.execute(
        text(
            "INSERT INTO dispute_events (dispute_id, kind, author, author_role, text, "
            "adjustment_entry_id, at) VALUES (:d, :k, :a, :r, :t, :adj, :at)"
        ),
        {
            "d": dispute_id,
            "k": kind,
            "a": by.subject,
            "r": by.role,
            "t": body,
            "adj": adjustment,
            "at": now,
        },
    )


async def locked_dispute(session: AsyncSession, dispute_id: str, partner_id: str | None) -> Any:
    """The dispute (after taking its lock), visible to `partner_id` (None: admin)."""
    await repository.lock(session, [f"dispute:{dispute_id}"])
    rows = await queries.disputes(session, partner_id, dispute_id)
    if not rows:
        raise DisputeNotFound()
    return rows


def _status(rows: list[Any]) -> str:
    status = "open"
    for row in rows:
        if row.kind in ("accepted", "rejected"):
            status = row.kind
    return status


async def comment(
    session: AsyncSession,
    *,
    dispute_id: str,
    partner_id: str | None,
    body: str,
    by: Principal,
    now: datetime,
) -> None:
    rows = await locked_dispute(session, dispute_id, partner_id)
    del rows
    await _message(session, dispute_id, "comment", by, body, now)


async def reject(
    session: AsyncSession, *, dispute_id: str, reason: str, by: Principal, now: datetime
) -> None:
    rows = await locked_dispute(session, dispute_id, None)
    if _status(rows) != "open":
        raise Conflict(f"dispute is {_status(rows)}")
    await _message(session, dispute_id, "rejected", by, reason, now)


async def accept(
    session: AsyncSession,
    *,
    dispute_id: str,
    amount: Decimal,
    body: str,
    by: Principal,
    now: datetime,
) -> list[EncodedEvent]:
    """Accept with an adjustment of `amount` (in the entry's currency) in the open period."""
    rows = await locked_dispute(session, dispute_id, None)
    if _status(rows) != "open":
        raise Conflict(f"dispute is {_status(rows)}")
    original = await queries.entry(session, rows[0].entry_id, now)
    assert original is not None  # entries are never deleted
    if not is_rounded(amount, original.currency):
        digits = minor_unit(original.currency)
        raise InvalidField("body", "amount", f"{original.currency} has {digits} decimal places")
    if amount == 0:
        raise InvalidField("body", "amount", "must not be zero")
    adjustment = adjustment_of(
        repository.entry_from_row(original),
        source_event_id=f"dispute:{dispute_id}",
        amount=amount,
        event_time=now,
        payable_at=now,
        inputs={"reason": "dispute accepted", "dispute_id": dispute_id, "comment": body[:500]},
    )
    _, events = await append_entries(session, [adjustment], now=now, period=period_of(now))
    await _message(session, dispute_id, "accepted", by, body, now, adjustment.entry_id)
    return events
