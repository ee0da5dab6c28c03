"""SQL for the accepted-events ledger: one statement per group of requests, whatever its size."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.events.registry import INPUT_EVENT_TYPES
from fourfold.ingest.models import accepted_events
from fourfold.ingest.schemas import AcceptedEvent

# Returns only the rows that were NOT inserted (seen before): usually none, so the answer
# stays small however large the batch. asyncpg's own placeholders: it runs on the claim
# connections (`claims.py`), a prepared statement each connection keeps.
_CLAIM = (
    "WITH batch AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) "
    "AS x(s, i, t, k)), "
    "inserted AS (INSERT INTO accepted_events (source, id, type, partition_key, accepted_at) "
    "SELECT s, i, t, k, $5::timestamptz FROM batch ON CONFLICT DO NOTHING "
    "RETURNING source, id) "
    "SELECT b.s AS source, b.i AS id FROM batch b WHERE NOT EXISTS "
    "(SELECT 1 FROM inserted n WHERE n.source = b.s AND n.id = b.i)"
)


async def claim(
    connection: Any,
    *,
    sources: Sequence[str],
    ids: Sequence[str],
    types: Sequence[str],
    keys: Sequence[str],
    accepted_at: datetime,
) -> set[tuple[str, str]]:
    """Insert the events not seen before; return the (source, id) of those seen before.

    `connection` is an asyncpg connection (`ClaimConnections.transaction`). Call it inside
    the transaction that commits only after the broker's ack: until then
    the rows are invisible to others, a concurrent request with the same id waits on the
    row lock, and a rollback (broker down) leaves no trace, so a retry goes through.
    """
    if not ids:
        return set()
    rows = await connection.fetch(_CLAIM, sources, ids, types, keys, accepted_at)
    return {(row["source"], row["id"]) for row in rows}


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
