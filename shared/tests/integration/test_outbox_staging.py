"""Staging events in the outbox: one statement for the batch, rows in the order given."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.db.engine import session_factory
from fourfold.events import Envelope, UsageReported, parse_event
from fourfold.kafka.outbox import stage
from fourfold.testing import effects, samples

pytestmark = pytest.mark.integration


def usage(n: int) -> Envelope:
    return parse_event(samples.usage_reported(f"e-{n}", f"c-{n % 7}", value=n))


async def test_staged_rows_keep_the_given_order_and_bytes(engine: AsyncEngine) -> None:
    events = [usage(n) for n in range(300, 0, -1)]  # ids and keys deliberately unsorted
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await stage(session, effects.outbox, events[:150])
        await stage(session, effects.outbox, events[150:])
        await stage(session, effects.outbox, [])  # nothing to stage is not an error
    async with engine.connect() as connection:
        rows = (
            await connection.execute(select(effects.outbox).order_by(effects.outbox.c.id))
        ).all()
    assert [row.payload for row in rows] == [event.to_json_bytes() for event in events]
    assert [row.key for row in rows] == [event.key for event in events]
    assert {row.topic for row in rows} == {UsageReported.topic}
    assert all(row.headers == {"ce_type": "usage.reported"} for row in rows)
