"""A database outage pauses the consumer; it never dead-letters good events for it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fourfold.db.engine import create_engine
from fourfold.infra.postgres import EmbeddedPostgres
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
    consumer = effects.build_consumer(
        bootstrap=kafka_bootstrap,
        engine=engine,
        topic=topic,
        group=group,
        producer=producer,
        max_pause_s=0.5,
        max_records=500,
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
        assert await effect_counts(engine) == {e.id: 1 for e in before + during}
        assert await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=1, timeout_s=2) == []
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
        await producer.stop()
        await engine.dispose()
        postgres.stop()  # whichever instance is current; stopping a stopped one is a no-op


async def test_an_event_that_always_times_out_is_dead_lettered_while_the_database_is_up(
    kafka_bootstrap: str, database_url: str, fresh_schema: str, unique: str
) -> None:
    topic = f"test.timeout.{unique}"
    await ensure_topics(kafka_bootstrap, with_dead_letters([topic]), partitions=1)
    await effects.create_tables(database_url, fresh_schema)
    engine = create_engine(database_url, schema=fresh_schema)
    good = [usage_event(f"ok-{i}", "c") for i in range(5)]
    slow = usage_event("slow-1", effects.TIMEOUT_CUSTOMER)
    await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in [*good[:2], slow, *good[2:]]])
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    consumer = effects.build_consumer(
        bootstrap=kafka_bootstrap,
        engine=engine,
        topic=topic,
        group=f"g-{unique}",
        producer=producer,
        max_pause_s=0.5,
        max_records=500,
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        dead = await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=1, timeout_s=30)
        await wait_for_effects(engine, len(good))
        assert [dict(r.headers)["dlq.event_id"] for r in dead] == [slow.id.encode()]
        assert await effect_counts(engine) == {e.id: 1 for e in good}
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
        await producer.stop()
        await engine.dispose()
