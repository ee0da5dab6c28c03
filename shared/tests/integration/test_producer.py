"""EventProducer.send_all on the real broker: each record on its key's partition, with its
headers, in order, acknowledged before the call returns; an outage is BrokerUnavailable."""

from __future__ import annotations

import asyncio
import gc
from collections import defaultdict
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord

from fourfold.infra.broker import EmbeddedBroker
from fourfold.kafka.producer import BrokerUnavailable, EventProducer, OutgoingRecord
from fourfold.kafka.topics import ensure_topics
from fourfold.testing.kafka import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
    producer = EventProducer(kafka_bootstrap, linger_ms=0)
    await producer.start()
    yield producer
    await producer.stop()


async def topic_of(bootstrap: str, name: str, partitions: int) -> str:
    await ensure_topics(bootstrap, [name], partitions=partitions)
    return name


def record(topic: str, key: str, n: int, size: int = 0) -> OutgoingRecord:
    """Record `n` of a test: its value and its own header say which it is."""
    value = f"{key}/{n}".encode().ljust(size, b".")
    return OutgoingRecord(topic, key.encode(), value, [("ce_type", b"t"), ("n", str(n).encode())])


def by_partition(found: Sequence[ConsumerRecord[bytes, bytes]]) -> dict[int, list[bytes]]:
    """The values read back, per partition, in offset order."""
    values: dict[int, list[bytes]] = defaultdict(list)
    for r in sorted(found, key=lambda r: (r.partition, r.offset)):
        values[r.partition].append(r.value or b"")
    return values


async def test_each_record_lands_where_aiokafkas_send_puts_its_key_with_its_headers(
    kafka_bootstrap: str, producer: EventProducer, unique: str
) -> None:
    ours = await topic_of(kafka_bootstrap, f"test.producer.keys.{unique}", 12)
    theirs = await topic_of(kafka_bootstrap, f"test.producer.keys-twin.{unique}", 12)
    records = [record(ours, f"cust-{i % 97}", i) for i in range(600)]

    await producer.send_all(records)

    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await raw.start()
    try:  # the same keys through aiokafka's own per-record send()
        futures = [await raw.send(theirs, b"", key=r.key) for r in records[:97]]
        aiokafkas = {r.key: (await f).partition for r, f in zip(records, futures, strict=False)}
    finally:
        await raw.stop()
    found = await read_topic(kafka_bootstrap, ours, expect=600)
    assert sorted(r.value or b"" for r in found) == sorted(r.value for r in records)
    for r in found:
        assert r.partition == aiokafkas[r.key or b""]
        assert r.partition == DefaultPartitioner()(r.key, list(range(12)), list(range(12)))
        n = (r.value or b"").decode().split("/")[1]
        assert list(r.headers) == [("ce_type", b"t"), ("n", n.encode())]
    assert len({r.partition for r in found}) == 12, "97 keys spread over every partition"


async def test_records_keep_their_order_within_a_partition(
    kafka_bootstrap: str, producer: EventProducer, unique: str
) -> None:
    topic = await topic_of(kafka_bootstrap, f"test.producer.order.{unique}", 3)
    records = [record(topic, f"c{i % 5}", i) for i in range(1_000)]

    await producer.send_all(records[:400])
    await producer.send_all(records[400:])

    found = await read_topic(kafka_bootstrap, topic, expect=1_000)
    sent: dict[int, list[bytes]] = defaultdict(list)
    partition_of = {r.key: r.partition for r in found}
    for r in records:
        sent[partition_of[r.key]].append(r.value)
    assert by_partition(found) == sent


async def test_more_records_than_one_batch_holds_are_split_and_all_arrive_in_order(
    kafka_bootstrap: str, unique: str
) -> None:
    topic = await topic_of(kafka_bootstrap, f"test.producer.split.{unique}", 2)
    small = EventProducer(kafka_bootstrap, max_batch_size=4_096, linger_ms=0)
    await small.start()
    try:  # 300 records of 200 bytes on one key fill at least 15 batches of 4 KiB
        records = [record(topic, "one-customer", i, size=200) for i in range(300)]
        records += [record(topic, "another", i, size=200) for i in range(300, 310)]
        await small.send_all(records)
    finally:
        await small.stop()

    found = await read_topic(kafka_bootstrap, topic, expect=310)
    values = by_partition(found)
    assert sorted(len(v) for v in values.values()) in ([10, 300], [310])
    one = [v for vs in values.values() for v in vs if v.startswith(b"one-customer/")]
    assert one == [r.value for r in records[:300]]


async def test_concurrent_calls_each_return_only_once_their_own_records_are_on_the_broker(
    kafka_bootstrap: str, producer: EventProducer, unique: str
) -> None:
    topic = await topic_of(kafka_bootstrap, f"test.producer.concurrent.{unique}", 2)
    # Groups of one to twenty records on two keys, forty calls at once: later calls join
    # batches earlier calls handed over and aiokafka has not sent yet.
    calls = [
        [record(topic, f"k{(c + i) % 2}", c * 100 + i) for i in range(c % 20 + 1)]
        for c in range(40)
    ]

    await asyncio.gather(*(producer.send_all(call) for call in calls))

    expected = sum(len(call) for call in calls)
    found = await read_topic(kafka_bootstrap, topic, expect=expected)
    assert sorted(r.value or b"" for r in found) == sorted(r.value for call in calls for r in call)
    for partition, values in by_partition(found).items():
        for call in calls:  # each call's records in its own order within the partition
            mine = {r.value for r in call}
            assert [v for v in values if v in mine] == [
                r.value for r in call if r.value in values
            ], partition


async def test_a_topic_the_producer_has_no_metadata_for_yet(
    kafka_bootstrap: str, producer: EventProducer, unique: str
) -> None:
    known = await topic_of(kafka_bootstrap, f"test.producer.known.{unique}", 2)
    await producer.send_all([record(known, "k", 0)])
    late = await topic_of(kafka_bootstrap, f"test.producer.late.{unique}", 4)

    await producer.send_all([record(known, "k", 1), record(late, "k", 2), record(late, "j", 3)])

    found = await read_topic(kafka_bootstrap, late, expect=2)
    assert sorted(r.value or b"" for r in found) == [b"j/3", b"k/2"]
    for r in found:
        assert r.partition == DefaultPartitioner()(r.key, [0, 1, 2, 3], [0, 1, 2, 3])
    assert len(await read_topic(kafka_bootstrap, known, expect=2)) == 2


async def broker_unavailable(call: Coroutine[Any, Any, None]) -> bool:
    try:
        await call
    except BrokerUnavailable:
        return True
    return False


async def test_an_outage_raises_broker_unavailable_and_every_outcome_is_seen(
    private_broker: EmbeddedBroker, unique: str
) -> None:
    bootstrap = private_broker.bootstrap_servers
    topic = await topic_of(bootstrap, f"test.producer.outage.{unique}", 3)
    producer = EventProducer(bootstrap, linger_ms=0, request_timeout_ms=1_000, send_timeout_s=2)
    await producer.start()
    try:
        await producer.send_all([record(topic, f"c{i}", i) for i in range(30)])
        more = [record(topic, f"c{i}", i) for i in range(30, 60)]
        private_broker.stop()

        # Not pytest.raises: its traceback would keep the call's futures from being collected.
        assert await broker_unavailable(producer.send_all(more))
    finally:
        await producer.stop()  # waits until aiokafka gave up on every batch it still held
    await asyncio.sleep(0.1)  # the failed batches' callbacks run
    gc.collect()
    # A failed future whose error nobody looked at (asyncio logs those as they are collected;
    # here the captured log records keep them alive, so ask the futures themselves).
    unseen = [
        f
        for f in gc.get_objects()
        if isinstance(f, asyncio.Future)
        and f.done()
        and not f.cancelled()
        and f._log_traceback
        and isinstance(f.exception(), KafkaError)
    ]
    assert not unseen
