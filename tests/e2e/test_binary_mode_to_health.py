"""Binary-mode CloudEvents (HTTP `ce-` headers, Kafka `ce_` headers) reach health-scoring
and score the customer exactly as the same events sent in structured mode do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest

from fourfold.events import INPUT_EVENT_TYPES
from fourfold.testing.kafka import produce_with_headers
from tests.e2e.test_ingest_to_health import post_batch, scored, vendor_batch

if TYPE_CHECKING:
    from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def attributes(event: dict[str, Any]) -> dict[str, str]:
    return {name: str(value) for name, value in event.items() if name != "data"}


async def test_binary_mode_events_score_like_structured_ones(stack: Stack, unique: str) -> None:
    partner = f"p-{unique}"
    structured_customer, binary_customer = f"s-{unique}", f"b-{unique}"
    await post_batch(stack, vendor_batch(f"{unique}-s", structured_customer, partner))
    events = vendor_batch(f"{unique}-b", binary_customer, partner)
    over_http, over_kafka = events[:1], events[1:]

    for event in over_http:  # the subscription, as an SDK's default HTTP mode sends it
        headers = {f"ce-{k}": v for k, v in attributes(event).items()}
        response = await stack.ingest.post(
            "/v1/events",
            content=orjson.dumps(event["data"]),
            headers={**headers, "content-type": "application/json", **stack.auth("ingest")},
        )
        assert response.status_code == 202, response.text
    by_topic: dict[str, list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]] = {}
    for event in over_kafka:  # usage and milestones, produced straight to the input topics
        headers = [(f"ce_{k}", v.encode()) for k, v in attributes(event).items()]
        headers.append(("content-type", b"application/json"))
        topic = INPUT_EVENT_TYPES[event["type"]].topic
        by_topic.setdefault(topic, []).append(
            (binary_customer.encode(), orjson.dumps(event["data"]), headers)
        )
    for topic, records in by_topic.items():
        await produce_with_headers(stack.bootstrap, topic, records)

    structured = await scored(stack, structured_customer, partner)
    binary = await scored(stack, binary_customer, partner)

    for field in ("score", "band", "step", "signals"):
        assert binary[field] == structured[field], field
