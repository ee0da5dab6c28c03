"""Independent broker clients for tests: produce raw records, read a topic back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord


async def produce_raw(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes | None, bytes]]
) -> None:
    """Produce (key, value) pairs exactly as given and wait for every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def produce_with_headers(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]],
) -> None:
    """Produce (key, value, headers) records as given (e.g. CloudEvents binary mode)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key, headers=headers)
            for key, value, headers in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int,
    timeout_s: float = 20.0,
    keys: set[bytes] | None = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read every partition from the beginning until `expect` matching records came.

    No consumer group (a group join costs seconds on the embedded broker): the partitions
    are assigned by hand. Returns early with fewer records if the timeout passes, so the
    caller's assertion fails with what was actually there.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    partitions = await _partitions(consumer, topic)
    consumer.assign([TopicPartition(topic, p) for p in partitions])
    await consumer.seek_to_beginning()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(found) < expect and asyncio.get_running_loop().time() < deadline:
            polled = await consumer.getmany(timeout_ms=200)
            for records in polled.values():
                found += [r for r in records if keys is None or r.key in keys]
    finally:
        await consumer.stop()
    return found


async def group_members(bootstrap: str, group: str) -> list[str]:
    """The member ids the group's coordinator lists now (a dead member stays until dropped)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        return [m["member_id"] for g in response.to_object()["groups"] for m in g["members"]]
    finally:
        await admin.close()


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of `topic` (missing: nothing committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        from aiokafka import TopicPartition

        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        result = {}
        for partition in partitions:
            offset = await consumer.committed(TopicPartition(topic, partition))
            if offset is not None:
                result[partition] = offset
        return result
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return set(partitions)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    raise AssertionError(f"topic {topic} has no partitions")
