"""A database outage pauses the consumer; it never dead-letters good events for it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fourfold.db.engine import create_engine, session_factory
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.kafka.consumer import BatchConsumer
from fourfold.kafka.producer import EventProducer
from fourfold.kafka.topics import ensure_topics, with_dead_letters
from fourfold.testing import effects
from fourfold.testing.kafka import committed_offsets, produce_raw, read_topic

from .test_batch_consumer import as_record, effect_counts, usage_event, wait_for_effects  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration


async def test_database_outage_pauses_the_poll_and_resumes_without_dead_letters(
    kafka_bootstrap: str, tmp_path: Path, unique: str
) -> None:
    postgres = EmbeddedPostgres(tmp_path).start()
    topic = f"test.outage.{unique}"
    group = f"g-{unique}"
    await ensure_topics(kafka_bootstrap, with_dead_letters([topic]), partitions=2)
    await effects.create_tables(postgres.url(), "outage")
    engine = create_engine(postgres.url(), schema="outage")
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    consumer = BatchConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        topics=[topic],
        sessions=session_factory(engine),
        inbox=effects.inbox,
        outbox=effects.outbox,
        producer=producer,
        handler=effects.handle,
        service="effects-test",
        session_timeout_ms=6000,
        max_pause_s=0.5,
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        before = [usage_event(f"before-{i}", f"c{i}") for i in range(10)]
        await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in before])
        await wait_for_effects(engine, len(before))

        postgres.stop()
        during = [usage_event(f"during-{i}", f"c{i}") for i in range(10)]
        await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in during])
        await asyncio.sleep(3)  # the consumer polls them and fails against the dead database
        assert sum((await committed_offsets(kafka_bootstrap, group, topic)).values()) == 10

        postgres = EmbeddedPostgres(tmp_path, port=postgres.port).start()
        await wait_for_effects(engine, len(before) + len(during))
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
        await producer.stop()

    assert await effect_counts(engine) == {e.id: 1 for e in before + during}
    assert await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=1, timeout_s=2) == []
    await engine.dispose()
    postgres.stop()
