"""SQL for the accepted-events ledger: one statement per request, whatever its size."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.events.registry import INPUT_EVENT_TYPES
from fourfold.ingest.models import accepted_events
from fourfold.ingest.schemas import AcceptedEvent

# Returns only the rows that were NOT inserted (seen before): usually none, so the answer
# stays small however large the batch.
_CLAIM = text(
    "WITH batch AS (SELECT * FROM unnest(CAST(:sources AS text[]), CAST(:ids AS text[]), "
    "CAST(:types AS text[]), CAST(:keys AS text[])) AS x(s, i, t, k)), "
    "inserted AS (INSERT INTO accepted_events (source, id, type, partition_key, accepted_at) "
    "SELECT s, i, t, k, :at FROM batch ON CONFLICT DO NOTHING "
    "RETURNING source, id) "
    "SELECT b.s AS source, b.i AS id FROM batch b WHERE NOT EXISTS "
    "(SELECT 1 FROM inserted n WHERE n.source = b.s AND n.id = b.i)"
)


async def claim(
    session: AsyncSession,
    *,
    sources: Sequence[str],
    ids: Sequence[str],
    types: Sequence[str],
    keys: Sequence[str],
    accepted_at: datetime,
) -> set[tuple[str, str]]:
    """Insert the events not seen before; return the (source, id) of those seen before.

    Call it inside the transaction that commits only after the broker's ack: until then
    the rows are invisible to others, a concurrent request with the same id waits on the
    row lock, and a rollback (broker down) leaves no trace, so a retry goes through.
    """
    if not ids:
        return set()
    rows = await session.execute(
        _CLAIM,
        {"sources": sources, "ids": ids, "types": types, "keys": keys, "at": accepted_at},
    )
    return {(row.source, row.id) for row in rows}


async def find_accepted(session: AsyncSession, *, source: str, id: str) -> AcceptedEvent | None:
    row = (
        await session.execute(
            select(accepted_events).where(
                accepted_events.c.source == source, accepted_events.c.id == id
            )
        )
    ).first()
    if row is None:
        return None
    return AcceptedEvent(**row._mapping, topic=INPUT_EVENT_TYPES[row.type].topic)
