"""Inbox pruning: rows past the retention go, in chunks; the rest stay; outages are survived;
the retention is never shorter than what the broker may replay."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.db.engine import create_engine, session_factory
from fourfold.infra.process import free_port
from fourfold.kafka.inbox_retention import InboxPruner, retention_for
from fourfold.kafka.replay_window import describe_replay_windows
from fourfold.kafka.topics import ensure_topics
from fourfold.testing import effects
from fourfold.testing.wait import wait_until

pytestmark = pytest.mark.integration

RETENTION = timedelta(days=14)


async def add_rows(engine: AsyncEngine, prefix: str, count: int, age: timedelta) -> None:
    """`count` inbox rows stamped `age` before the database's now()."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO inbox (consumer, event_source, event_id, processed_at) "
                "SELECT 'group', 'src', :prefix || n, now() - CAST(:age AS interval) "
                "FROM generate_series(1, :n) n"
            ),
            {"prefix": prefix, "age": age, "n": count},
        )


async def remaining_ids(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set((await connection.scalars(select(effects.inbox.c.event_id))).all())


def pruner_of(engine: AsyncEngine, **options: Any) -> InboxPruner:
    """A pruner of the effects inbox with a 14-day retention; `options` override the rest."""
    settings: dict[str, Any] = {"interval_s": 60, "service": "prune-test", **options}
    return InboxPruner(
        sessions=session_factory(engine), inbox=effects.inbox, retention=RETENTION, **settings
    )


def pruned_total(service: str) -> float:
    return REGISTRY.get_sample_value("fourfold_inbox_pruned_total", {"service": service}) or 0.0


async def test_rows_older_than_the_retention_are_deleted_and_younger_ones_kept(
    engine: AsyncEngine,
) -> None:
    await add_rows(engine, "old-", 25, RETENTION + timedelta(hours=1))
    await add_rows(engine, "young-", 5, RETENTION - timedelta(hours=1))
    await add_rows(engine, "new-", 3, timedelta(0))
    service = f"prune-{uuid.uuid4().hex[:6]}"
    pruner = pruner_of(engine, service=service, chunk_size=4)  # 25 rows: 6 chunks of 4, 1 of 1

    assert await pruner.prune() == 25
    assert await remaining_ids(engine) == {f"young-{n}" for n in range(1, 6)} | {
        f"new-{n}" for n in range(1, 4)
    }
    assert pruned_total(service) == 25
    assert await pruner.prune() == 0  # nothing left to prune is not an error


async def test_a_chunk_exactly_full_ends_with_an_empty_chunk(engine: AsyncEngine) -> None:
    await add_rows(engine, "old-", 8, RETENTION * 2)
    pruner = pruner_of(engine, chunk_size=4)
    assert await pruner.prune() == 8
    assert await remaining_ids(engine) == set()


async def test_the_loop_prunes_then_stops_promptly(engine: AsyncEngine) -> None:
    await add_rows(engine, "old-", 3, RETENTION * 2)
    pruner = pruner_of(engine, interval_s=3600)  # stop() must not wait this out
    loop = asyncio.create_task(pruner.run())

    async def emptied() -> bool:
        return not await remaining_ids(engine)

    await wait_until(emptied, timeout_s=10, what="the old rows to be pruned")
    pruner.stop()
    async with asyncio.timeout(2):
        await loop


async def test_the_loop_survives_a_database_outage(caplog: pytest.LogCaptureFixture) -> None:
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere")
    pruner = pruner_of(engine, interval_s=0.05)
    caplog.set_level(logging.ERROR, logger="fourfold.kafka.inbox_retention")
    loop = asyncio.create_task(pruner.run())

    async def failed_twice() -> bool:  # failed, waited, tried again
        return len(caplog.records) >= 2

    try:
        await wait_until(failed_twice, timeout_s=10, what="two failed attempts")
        assert not loop.done()
        assert caplog.records[0].getMessage() == "inbox pruning failed; retrying next interval"
    finally:
        pruner.stop()
        await asyncio.wait_for(loop, 5)
        await engine.dispose()


async def test_a_stop_during_a_prune_ends_it_after_the_chunk_in_hand(engine: AsyncEngine) -> None:
    await add_rows(engine, "old-", 10, RETENTION * 2)
    pruner = pruner_of(engine, chunk_size=1)
    pruner.stop()
    assert await pruner.prune() == 0
    assert len(await remaining_ids(engine)) == 10


async def test_a_broker_that_describes_no_retention_leaves_the_configured_one(
    kafka_bootstrap: str, unique: str
) -> None:
    """The embedded Tansu broker answers DescribeConfigs with no entries."""
    topic = f"retention-{unique}"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    assert await describe_replay_windows(kafka_bootstrap, [topic]) == []
    assert await retention_for(RETENTION, kafka_bootstrap, [topic]) == RETENTION


async def test_a_broker_that_cannot_be_asked_leaves_the_configured_one() -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    assert await retention_for(RETENTION, nowhere, ["any"]) == RETENTION
