"""POST /v1/events in CloudEvents HTTP binary mode, on the real broker and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
import pytest

from fourfold.events import BILLING_TOPIC
from fourfold.testing.kafka import read_topic
from fourfold.testing.samples import subscription_created

pytestmark = pytest.mark.integration


def binary(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """What a CloudEvents SDK sends for `event` in binary mode: headers and the data."""
    headers = {f"ce-{name}": str(value) for name, value in event.items() if name != "data"}
    headers["content-type"] = "application/json; charset=utf-8"
    return headers, orjson.dumps(event["data"])


async def post_binary(
    client: httpx.AsyncClient, auth: dict[str, str], headers: dict[str, str], body: bytes
) -> httpx.Response:
    return await client.post("/v1/events", content=body, headers={**headers, **auth})


async def test_binary_event_lands_on_its_topic_as_the_structured_event_it_stands_for(
    client: httpx.AsyncClient, auth_header: Any, kafka_bootstrap: str, unique: str
) -> None:
    event = subscription_created(f"{unique}-bin", f"{unique}-cust")
    headers, body = binary(event)
    headers["ce-partnerchannel"] = "reseller%20EU"  # an extension, percent-encoded

    response = await post_binary(client, auth_header(), headers, body)

    assert response.status_code == 202, response.text
    assert response.json()["results"] == [
        {
            "index": 0,
            "id": event["id"],
            "source": event["source"],
            "status": "accepted",
            "errors": [],
        }
    ]
    [record] = await read_topic(
        kafka_bootstrap, BILLING_TOPIC, expect=1, keys={f"{unique}-cust".encode()}
    )
    assert record.value is not None
    published = json.loads(record.value)
    assert published["data"] == event["data"]
    for attribute in ("specversion", "id", "source", "type", "time"):
        assert published[attribute] == event[attribute]
    assert published["datacontenttype"] == "application/json"
    assert published["partnerchannel"] == "reseller EU"


async def test_binary_and_structured_copies_of_one_event_dedupe_together(
    client: httpx.AsyncClient, auth_header: Any, kafka_bootstrap: str, unique: str
) -> None:
    event = subscription_created(f"{unique}-twice", f"{unique}-cust")
    headers, body = binary(event)

    first = await post_binary(client, auth_header(), headers, body)
    again = await post_binary(client, auth_header(), headers, body)
    structured = await client.post(
        "/v1/events",
        content=orjson.dumps(event),
        headers={"Content-Type": "application/cloudevents+json", **auth_header()},
    )

    assert [r.json()["results"][0]["status"] for r in (first, again, structured)] == [
        "accepted",
        "duplicate",
        "duplicate",
    ]
    records = await read_topic(
        kafka_bootstrap, BILLING_TOPIC, expect=2, keys={f"{unique}-cust".encode()}, timeout_s=4
    )
    assert len(records) == 1


@pytest.mark.parametrize("header", ["ce-id", "ce-source", "ce-type", "ce-time"])
async def test_a_missing_required_header_is_422_naming_it(
    client: httpx.AsyncClient, auth_header: Any, unique: str, header: str
) -> None:
    headers, body = binary(subscription_created(f"{unique}-m", f"{unique}-cust"))
    del headers[header]

    response = await post_binary(client, auth_header(), headers, body)

    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["header", header]
    assert header in problem["msg"]


async def test_bad_values_are_rejected_naming_the_header_or_the_body_path(
    client: httpx.AsyncClient, auth_header: Any, unique: str
) -> None:
    event = subscription_created(f"{unique}-bad", f"{unique}-cust")
    event["data"]["seats"] = 0
    headers, body = binary(event)
    headers["ce-time"] = "yesterday"

    response = await post_binary(client, auth_header(), headers, body)

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "events_rejected"
    [result] = response.json()["detail"]
    assert sorted(tuple(p["loc"]) for p in result["errors"]) == [
        ("body", "seats"),
        ("header", "ce-time"),
    ]


async def test_data_that_is_not_json_is_422_naming_content_type_or_body(
    client: httpx.AsyncClient, auth_header: Any, unique: str
) -> None:
    headers, body = binary(subscription_created(f"{unique}-x", f"{unique}-cust"))

    as_xml = await post_binary(client, auth_header(), {**headers, "content-type": "text/xml"}, body)
    broken = await post_binary(client, auth_header(), headers, b"{not json")

    assert as_xml.status_code == 422
    assert as_xml.json()["detail"][0]["loc"] == ["header", "content-type"]
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["loc"] == ["body"]


async def test_binary_mode_needs_the_ingest_credential(
    client: httpx.AsyncClient, auth_header: Any, unique: str
) -> None:
    headers, body = binary(subscription_created(f"{unique}-auth", f"{unique}-cust"))

    assert (await post_binary(client, {}, headers, body)).status_code == 401
    assert (await post_binary(client, auth_header("admin"), headers, body)).status_code == 403


async def test_a_structured_event_with_ce_headers_too_is_read_as_structured(
    client: httpx.AsyncClient, auth_header: Any, unique: str
) -> None:
    event = subscription_created(f"{unique}-s", f"{unique}-cust")
    headers, _ = binary(event)
    headers["content-type"] = "application/cloudevents+json"

    response = await post_binary(client, auth_header(), headers, orjson.dumps(event))

    assert response.status_code == 202, response.text
    assert response.json()["results"][0]["id"] == event["id"]
