"""SQL for the accepted-events ledger: one statement per batch, whatever its size."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.events.envelope import Envelope
from fourfold.ingest.models import accepted_events
from fourfold.ingest.schemas import AcceptedEvent

_SEEN = text(
    "SELECT a.source, a.id FROM accepted_events a "
    "JOIN unnest(CAST(:sources AS text[]), CAST(:ids AS text[])) AS k(source, id) "
    "ON a.source = k.source AND a.id = k.id"
)
_RECORD = text(
    "INSERT INTO accepted_events (source, id, type, topic, partition_key, accepted_at) "
    "SELECT s, i, t, tp, k, :at FROM unnest(CAST(:sources AS text[]), CAST(:ids AS text[]), "
    "CAST(:types AS text[]), CAST(:topics AS text[]), CAST(:keys AS text[])) AS x(s, i, t, tp, k) "
    "ON CONFLICT DO NOTHING"
)


async def already_accepted(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which (source, id) pairs were accepted before."""
    if not keys:
        return set()
    rows = await session.execute(
        _SEEN, {"sources": [k[0] for k in keys], "ids": [k[1] for k in keys]}
    )
    return {(row.source, row.id) for row in rows}


async def record_accepted(
    session: AsyncSession, events: Sequence[Envelope], *, accepted_at: datetime
) -> None:
    """Remember events the broker acknowledged, so a later copy is reported as duplicate."""
    if not events:
        return
    await session.execute(
        _RECORD,
        {
            "sources": [e.source for e in events],
            "ids": [e.id for e in events],
            "types": [e.type for e in events],
            "topics": [e.topic for e in events],
            "keys": [e.key for e in events],
            "at": accepted_at,
        },
    )


async def find_accepted(session: AsyncSession, *, source: str, id: str) -> AcceptedEvent | None:
    row = (
        await session.execute(
            select(accepted_events).where(
                accepted_events.c.source == source, accepted_events.c.id == id
            )
        )
    ).first()
    return AcceptedEvent.model_validate(row._mapping) if row else None
