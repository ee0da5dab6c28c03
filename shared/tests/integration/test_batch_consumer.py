"""The consumer runtime on the real broker and PostgreSQL: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pytest
from aiokafka.structs import ConsumerRecord
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.db.engine import session_factory
from fourfold.events import UsageReported, UsageReportedData, parse_event
from fourfold.kafka.consumer import Batch, BatchConsumer
from fourfold.kafka.outbox import OutboxRelay
from fourfold.kafka.producer import EventProducer
from fourfold.kafka.topics import ensure_topics, with_dead_letters
from fourfold.testing import effects
from fourfold.testing.kafka import committed_offsets, produce_raw, read_topic
from fourfold.testing.wait import wait_until

pytestmark = pytest.mark.integration


def usage_event(event_id: str, customer: str) -> UsageReported:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    return UsageReported(
        id=event_id,
        source="test/usage",
        type="usage.reported",
        time=at,
        data=UsageReportedData(
            customer_id=customer, metric="active_users", value=3, period_start=at, period_end=at
        ),
    )


def as_record(event: UsageReported) -> tuple[bytes, bytes]:
    return event.key.encode(), event.to_json_bytes()


@pytest.fixture
async def topic(kafka_bootstrap: str, unique: str) -> str:
    name = f"test.effects.{unique}"
    await ensure_topics(kafka_bootstrap, with_dead_letters([name]), partitions=3)
    return name


async def effect_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(effects.effects.c.event_id, effects.effects.c.count))
        return {row.event_id: row.count for row in rows}


@contextlib.asynccontextmanager
async def running(consumer: BatchConsumer) -> AsyncIterator[None]:
    """Run the consumer in the background for the block, then stop it as SIGTERM would."""
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        yield
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)


def in_process_consumer(
    kafka_bootstrap: str, engine: AsyncEngine, topic: str, group: str, producer: EventProducer
) -> BatchConsumer:
    return effects.build_consumer(
        bootstrap=kafka_bootstrap, engine=engine, topic=topic, group=group, producer=producer
    )


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    yield producer
    await producer.stop()


async def wait_for_committed(bootstrap: str, group: str, topic: str, total: int) -> None:
    async def done() -> bool:
        return sum((await committed_offsets(bootstrap, group, topic)).values()) >= total

    await wait_until(done, 30, f"{total} committed offsets on {topic}")


async def wait_for_effects(engine: AsyncEngine, count: int, timeout_s: float = 30) -> None:
    async def done() -> bool:
        return len(await effect_counts(engine)) >= count

    await wait_until(done, timeout_s, f"{count} effects")


async def test_duplicate_event_ids_have_one_effect(
    kafka_bootstrap: str, engine: AsyncEngine, topic: str, unique: str, producer: EventProducer
) -> None:
    events = [usage_event(f"e{i}", f"c{i % 4}") for i in range(20)]
    # Every event twice, and the first five a third time in a later poll.
    await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in events + events])
    consumer = in_process_consumer(kafka_bootstrap, engine, topic, f"g-{unique}", producer)
    async with running(consumer):
        await wait_for_effects(engine, len(events))
        await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in events[:5]])
        await wait_for_committed(kafka_bootstrap, f"g-{unique}", topic, 45)  # raises if not

    assert await effect_counts(engine) == {e.id: 1 for e in events}
    async with engine.connect() as connection:
        staged = await connection.scalar(text("SELECT count(*) FROM outbox"))
    assert staged == len(events), "one derived event per distinct input, duplicates emit nothing"


async def test_poison_and_unparseable_records_go_to_dlq_and_partition_moves_on(
    kafka_bootstrap: str, engine: AsyncEngine, topic: str, unique: str, producer: EventProducer
) -> None:
    good = [usage_event(f"g{i}", "same-customer") for i in range(10)]
    poison = usage_event("bad-1", effects.POISON_CUSTOMER)
    poison_record = (b"same-customer", poison.to_json_bytes())  # same partition as the good ones
    records = [as_record(e) for e in good[:5]]
    records += [(b"same-customer", b"{not json"), poison_record]
    records += [as_record(e) for e in good[5:]]
    await produce_raw(kafka_bootstrap, topic, records)

    group = f"g-{unique}"
    consumer = in_process_consumer(kafka_bootstrap, engine, topic, group, producer)
    async with running(consumer):
        await wait_for_committed(kafka_bootstrap, group, topic, len(records))

    assert await effect_counts(engine) == {e.id: 1 for e in good}
    dead = await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=2)
    reasons = sorted(
        (dict(r.headers)["dlq.reason"].decode(), r.value) for r in dead if r.value is not None
    )
    assert reasons == [("handler_failed", poison.to_json_bytes()), ("unparseable", b"{not json")]
    assert all(dict(r.headers)["dlq.topic"].decode() == topic for r in dead)
    event_ids = sorted(dict(r.headers)["dlq.event_id"].decode() for r in dead)
    assert event_ids == ["", poison.id], "the parsed poison record names its event"
    committed = await committed_offsets(kafka_bootstrap, group, topic)
    assert sum(committed.values()) == len(records), "offsets moved past the dead letters"


async def test_an_unparseable_record_names_its_json_id_and_no_empty_location(
    kafka_bootstrap: str, engine: AsyncEngine, topic: str, unique: str, producer: EventProducer
) -> None:
    bad_event = b'{"id": "evt-77", "source": "test/usage", "type": "usage.reported"}'
    records = [(b"c1", b"{not json"), (b"c1", bad_event), (b"c1", b'["an", "array"]')]
    await produce_raw(kafka_bootstrap, topic, records)
    group = f"g-{unique}"
    consumer = in_process_consumer(kafka_bootstrap, engine, topic, group, producer)
    async with running(consumer):
        await wait_for_committed(kafka_bootstrap, group, topic, len(records))

    dead = await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=3)
    headers = {r.value: dict(r.headers) for r in dead}
    assert headers[bad_event]["dlq.event_id"] == b"evt-77", "the JSON id is kept"
    assert headers[b"{not json"]["dlq.event_id"] == b""
    for value, header in headers.items():
        detail = header["dlq.detail"].decode()
        assert not detail.startswith((":", " ")), (value, detail)
    assert headers[b"{not json"]["dlq.detail"].startswith(b"Invalid JSON")
    assert b"data: Field required" in headers[bad_event]["dlq.detail"]


async def test_handler_crash_mid_batch_rolls_back_and_replays_once(
    kafka_bootstrap: str,
    engine: AsyncEngine,
    topic: str,
    unique: str,
    producer: EventProducer,
) -> None:
    events = [usage_event(f"e{i}", f"c{i % 3}") for i in range(30)]
    await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in events])
    calls = 0

    async def crash_on_first_call(batch: effects.Batch) -> None:
        nonlocal calls
        calls += 1
        await effects.handle(batch)  # writes effects for the whole batch...
        if calls == 1:
            raise ConnectionError("simulated crash after half the work")  # ...then dies

    consumer = effects.build_consumer(
        bootstrap=kafka_bootstrap,
        engine=engine,
        topic=topic,
        group=f"g-{unique}",
        producer=producer,
        handler=crash_on_first_call,
        max_records=500,
    )
    async with running(consumer):
        await wait_for_committed(kafka_bootstrap, f"g-{unique}", topic, len(events))
    assert calls >= 2
    assert await effect_counts(engine) == {e.id: 1 for e in events}


def spawn_consumer(
    kafka_bootstrap: str, database_url: str, schema: str, topic: str, group: str, *extra: str
) -> subprocess.Popen[bytes]:
    log = Path(tempfile.gettempdir()) / f"effects-consumer-{schema}-{os.urandom(4).hex()}.log"
    with log.open("wb") as output:
        return _spawn(output, kafka_bootstrap, database_url, schema, topic, group, *extra)


def _spawn(output: BinaryIO, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fourfold.testing.effects",
            *args,
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
        env={**os.environ, "EFFECTS_SLOW_S": "0.05"},
    )


async def finish_and_stop(
    consumer: subprocess.Popen[bytes], engine: AsyncEngine, events: int
) -> None:
    """Let a consumer process apply `events` in all, then SIGTERM it and wait for its exit."""
    try:
        await wait_for_effects(engine, events)
    finally:
        consumer.send_signal(signal.SIGTERM)
        await asyncio.to_thread(consumer.wait, 30)


@pytest.mark.parametrize("mode", [[], ["--offsets"]], ids=["inbox", "offsets"])
async def test_process_killed_after_db_commit_before_offset_commit_replays_once(
    kafka_bootstrap: str,
    database_url: str,
    fresh_schema: str,
    engine: AsyncEngine,
    topic: str,
    unique: str,
    mode: list[str],
) -> None:
    """In offsets mode the handler still counts (not idempotent): a record applied again
    after the restart, not skipped by the stored offsets, would show as 2."""
    events = [usage_event(f"k{i}", f"c{i % 5}") for i in range(200)]
    await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in events])
    group = f"g-{unique}"

    crashing = spawn_consumer(
        kafka_bootstrap,
        database_url,
        fresh_schema,
        topic,
        group,
        "--crash-after-first-commit",
        *mode,
    )
    assert await asyncio.to_thread(crashing.wait, 60) == 17
    applied_before_restart = await effect_counts(engine)
    assert 0 < len(applied_before_restart) < len(events), "died mid-stream with work committed"
    assert await committed_offsets(kafka_bootstrap, group, topic) == {}, "offsets not committed"

    restarted = spawn_consumer(kafka_bootstrap, database_url, fresh_schema, topic, group, *mode)
    await finish_and_stop(restarted, engine, len(events))
    assert await effect_counts(engine) == {e.id: 1 for e in events}


async def test_sigterm_drains_cleanly_and_restart_loses_nothing(
    kafka_bootstrap: str,
    database_url: str,
    fresh_schema: str,
    engine: AsyncEngine,
    topic: str,
    unique: str,
) -> None:
    events = [usage_event(f"s{i}", f"c{i % 7}") for i in range(400)]
    await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in events])
    group = f"g-{unique}"

    first = spawn_consumer(kafka_bootstrap, database_url, fresh_schema, topic, group)
    await wait_for_effects(engine, 60)
    first.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(first.wait, 30) == 0, "drained and exited cleanly"
    applied = await effect_counts(engine)
    committed = await committed_offsets(kafka_bootstrap, group, topic)
    assert sum(committed.values()) == len(applied), "every committed offset is applied and v.v."
    assert len(applied) < len(events), "stopped mid-stream"

    restarted = spawn_consumer(kafka_bootstrap, database_url, fresh_schema, topic, group)
    await finish_and_stop(restarted, engine, len(events))
    assert await effect_counts(engine) == {e.id: 1 for e in events}


async def test_outbox_relay_publishes_what_the_handler_emitted(
    kafka_bootstrap: str,
    engine: AsyncEngine,
    topic: str,
    unique: str,
    producer: EventProducer,
) -> None:
    customers = [f"relay-{unique}-{i}" for i in range(5)]
    events = [usage_event(f"r{i}", customers[i % 5]) for i in range(25)]
    await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in events])
    await ensure_topics(kafka_bootstrap, ["partner.nudges"], partitions=3)
    consumer = in_process_consumer(kafka_bootstrap, engine, topic, f"g-{unique}", producer)
    async with running(consumer):
        await wait_for_effects(engine, len(events))

    relay = OutboxRelay(
        sessions=session_factory(engine),
        outbox=effects.outbox,
        producer=producer,
        service="effects-test",
        batch_size=10,
    )
    while await relay.publish_once():
        pass
    assert await relay.pending() == 0
    published = await read_topic(
        kafka_bootstrap, "partner.nudges", expect=25, keys={c.encode() for c in customers}
    )
    published_ids = {parse_event(r.value).id for r in published if r.value}
    assert published_ids == {f"nudge-{e.id}" for e in events}
    assert len(published) == len(events)


@pytest.mark.parametrize("offsets", [False, True], ids=["inbox", "offsets"])
async def test_a_rebalance_mid_stream_loses_and_doubles_nothing(
    kafka_bootstrap: str,
    engine: AsyncEngine,
    topic: str,
    unique: str,
    producer: EventProducer,
    offsets: bool,
) -> None:
    """A second member joins while the first works slowly through small polls, so the
    first's partitions are revoked while a batch is in its transaction (its lag gauge must
    then skip them: aiokafka asserts on a revoked partition's highwater). The handler counts
    (not idempotent): in inbox mode a doubled effect would show as 2; in offsets mode a
    poll committed after its partitions moved may be applied by both members
    (docs/runtime.md), so only a loss is an error there."""
    events = [usage_event(f"b{i}", f"c{i % 9}") for i in range(600)]
    await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in events])
    group = f"g-{unique}"

    async def slowly(batch: effects.Batch) -> None:
        await effects.handle(batch)
        await asyncio.sleep(0.05)

    def member() -> BatchConsumer:
        mode = {"offsets": effects.consumer_offsets} if offsets else {}
        return effects.build_consumer(
            bootstrap=kafka_bootstrap,
            engine=engine,
            topic=topic,
            group=group,
            producer=producer,
            handler=slowly,
            max_records=10,
            instance=f"member-{len(members)}",
            **mode,
        )

    members: list[BatchConsumer] = []
    members.append(member())
    async with running(members[0]):
        await wait_for_effects(engine, 50)
        members.append(member())
        async with running(members[1]):
            await wait_for_effects(engine, len(events), timeout_s=60)
    counts = await effect_counts(engine)
    assert set(counts) == {e.id for e in events}, "nothing lost"
    if not offsets:
        assert set(counts.values()) == {1}, "nothing doubled"


# ------------------------------------------------ offsets mode: next offsets, not inbox rows


async def test_an_event_id_reaching_the_broker_twice_has_one_effect(
    kafka_bootstrap: str, engine: AsyncEngine, topic: str, unique: str, producer: EventProducer
) -> None:
    events = [usage_event(f"o{i}", f"c{i % 4}") for i in range(20)]
    await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in events + events])
    group = f"g-{unique}"
    consumer = effects.build_consumer(
        bootstrap=kafka_bootstrap,
        engine=engine,
        topic=topic,
        group=group,
        producer=producer,
        handler=effects.handle_idempotently,
        offsets=effects.consumer_offsets,
    )
    async with running(consumer):
        await wait_for_effects(engine, len(events))
        await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in events[:5]])
        await wait_for_committed(kafka_bootstrap, group, topic, 45)

    assert await effect_counts(engine) == {e.id: 1 for e in events}
    async with engine.connect() as connection:
        inbox_rows = await connection.scalar(text("SELECT count(*) FROM inbox"))
        stored = await connection.scalar(
            text("SELECT sum(next_offset) FROM consumer_offsets WHERE consumer = :g"), {"g": group}
        )
    assert inbox_rows == 0, "offsets mode writes no inbox rows"
    assert stored == 45, "every partition's next offset is stored with the effects"


@pytest.mark.parametrize("mode", ["inbox", "offsets"])
async def test_a_poll_hands_over_the_first_copy_of_each_id_once_in_order(
    kafka_bootstrap: str,
    engine: AsyncEngine,
    topic: str,
    unique: str,
    producer: EventProducer,
    mode: str,
) -> None:
    seen: list[tuple[str, str]] = []

    async def note(batch: Batch) -> None:
        seen.extend((e.id, e.data.customer_id) for e in batch.events)  # type: ignore[attr-defined]

    group = f"g-{unique}"
    consumer = effects.build_consumer(
        bootstrap=kafka_bootstrap,
        engine=engine,
        topic=topic,
        group=group,
        producer=producer,
        handler=note,
        offsets=effects.consumer_offsets if mode == "offsets" else None,
    )

    def record(partition: int, offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
        return ConsumerRecord(
            topic=topic,
            partition=partition,
            offset=offset,
            timestamp=0,
            timestamp_type=0,
            key=None,
            value=value,
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=len(value),
            headers=[],
        )

    first, again = usage_event("d1", "c-first"), usage_event("d1", "c-again")
    others = [usage_event(f"d{i}", f"c{i}") for i in range(2, 6)]
    records = [
        record(0, 10, first.to_json_bytes()),
        record(0, 11, others[0].to_json_bytes()),
        record(1, 2, b"not json"),  # dead-lettered: partition 1 must not be stored past it
        record(1, 3, again.to_json_bytes()),
        record(1, 4, others[1].to_json_bytes()),
        record(2, 7, others[2].to_json_bytes()),
        record(0, 12, others[3].to_json_bytes()),  # partition 0 again, after partition 2
    ]

    try:
        dead = await consumer.apply_records(records)  # one poll, without the broker
    finally:
        await consumer.close()

    assert [letter.record.offset for letter in dead] == [2]
    assert seen == [("d1", "c-first"), ("d2", "c2"), ("d3", "c3"), ("d4", "c4"), ("d5", "c5")]
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT partition, next_offset FROM consumer_offsets WHERE consumer = :g"),
            {"g": group},
        )
        stored = {row.partition: row.next_offset for row in rows}
    assert stored == ({0: 13, 1: 2, 2: 8} if mode == "offsets" else {})
