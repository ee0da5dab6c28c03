"""The consumer runtime reads every CloudEvents Kafka content mode, on the real broker."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.events import UsageReported
from fourfold.kafka.producer import EventProducer
from fourfold.kafka.topics import ensure_topics, with_dead_letters
from fourfold.testing.kafka import produce_with_headers, read_topic

from .test_batch_consumer import (  # type: ignore[import-not-found]
    effect_counts,
    in_process_consumer,
    producer,  # noqa: F401 - the fixture, used by name
    running,
    usage_event,
    wait_for_effects,
)

pytestmark = pytest.mark.integration


def binary_record(
    event: UsageReported, *, drop: str = "", **override: str
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """The record a producer writes in the Kafka binding's binary mode."""
    attributes = {"specversion": "1.0", "id": event.id, "source": event.source}
    attributes |= {"type": event.type, "time": event.time.isoformat(), **override}
    headers = [(f"ce_{k}", v.encode()) for k, v in attributes.items() if k != drop]
    headers.append(("content-type", b"application/json"))
    return event.key.encode(), event.data.model_dump_json().encode(), headers


async def test_binary_and_structured_records_have_their_effect_and_bad_ones_name_the_header(
    kafka_bootstrap: str,
    engine: AsyncEngine,
    unique: str,
    producer: EventProducer,  # noqa: F811 - the imported fixture
) -> None:
    topic = f"test.binding.{unique}"
    await ensure_topics(kafka_bootstrap, with_dead_letters([topic]), partitions=1)
    structured = usage_event("structured", "c1")
    records = [
        binary_record(usage_event("binary", "c1")),
        (
            structured.key.encode(),
            structured.to_json_bytes(),
            [("content-type", b"application/cloudevents+json")],
        ),
        binary_record(usage_event("no-id", "c1"), drop="id"),
        binary_record(usage_event("bad-time", "c1"), time="last tuesday"),
    ]
    await produce_with_headers(kafka_bootstrap, topic, records)

    consumer = in_process_consumer(kafka_bootstrap, engine, topic, f"g-{unique}", producer)
    async with running(consumer):
        await wait_for_effects(engine, 2)
        dead = await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=2)

    assert sorted(await effect_counts(engine)) == ["binary", "structured"]
    details = sorted(dict(r.headers)["dlq.detail"].decode() for r in dead)
    assert len(details) == 2
    assert details[0].startswith("ce_id: required CloudEvents attribute missing")
    assert details[1].startswith("ce_time: ")
    assert all(dict(r.headers)["dlq.reason"] == b"unparseable" for r in dead)
    assert {orjson.loads(r.value or b"")["metric"] for r in dead} == {"active_users"}
