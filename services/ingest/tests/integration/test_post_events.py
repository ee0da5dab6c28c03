"""POST /v1/events on the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import orjson
import pytest

from fourfold.events import ACTIVITY_TOPIC, BILLING_TOPIC, USAGE_TOPIC
from fourfold.testing.kafka import read_topic
from fourfold.testing.samples import milestone_completed, subscription_created, usage_reported

pytestmark = pytest.mark.integration
BATCH = {"Content-Type": "application/cloudevents-batch+json"}
SINGLE = {"Content-Type": "application/cloudevents+json"}


def batch_of(unique: str, n: int) -> list[dict[str, Any]]:
    builders = [subscription_created, usage_reported, milestone_completed]
    return [builders[i % 3](f"{unique}-e{i}", f"{unique}-c{i % 7}") for i in range(n)]


async def post(client: httpx.AsyncClient, auth: dict[str, str], body: Any, **headers: str) -> Any:
    return await client.post(
        "/v1/events", content=orjson.dumps(body), headers={**BATCH, **auth, **headers}
    )


async def test_batch_lands_on_topics_keyed_by_customer_with_identical_payloads(
    client: httpx.AsyncClient, auth_header: Any, kafka_bootstrap: str, unique: str
) -> None:
    events = batch_of(unique, 30)
    response = await post(client, auth_header(), events)

    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (30, 0, 0)
    assert [r["status"] for r in body["results"]] == ["accepted"] * 30
    keys = {e["data"]["customer_id"].encode() for e in events}
    read: dict[str, Any] = {}
    for topic, expected_type in [
        (BILLING_TOPIC, "subscription.created"),
        (USAGE_TOPIC, "usage.reported"),
        (ACTIVITY_TOPIC, "milestone.completed"),
    ]:
        records = await read_topic(kafka_bootstrap, topic, expect=10, keys=keys)
        assert len(records) == 10
        for record in records:
            assert record.value is not None
            published = json.loads(record.value)
            assert published["type"] == expected_type
            assert record.key == published["data"]["customer_id"].encode()
            read[published["id"]] = published
    for sent in events:
        assert read[sent["id"]]["data"] == sent["data"], "payload fields byte-for-byte"
        for attribute in ("specversion", "id", "source", "type"):
            assert read[sent["id"]][attribute] == sent[attribute]


async def test_duplicates_within_a_batch_and_across_requests_are_reported_not_republished(
    client: httpx.AsyncClient, auth_header: Any, kafka_bootstrap: str, unique: str
) -> None:
    first = usage_reported(f"{unique}-dup", f"{unique}-cust")
    other = usage_reported(f"{unique}-other", f"{unique}-cust")

    within = await post(client, auth_header(), [first, first, other])
    assert [r["status"] for r in within.json()["results"]] == ["accepted", "duplicate", "accepted"]
    across = await post(client, auth_header(), [other, first])
    assert across.status_code == 202
    assert across.json()["duplicates"] == 2
    assert [r["status"] for r in across.json()["results"]] == ["duplicate", "duplicate"]

    records = await read_topic(
        kafka_bootstrap, USAGE_TOPIC, expect=3, keys={f"{unique}-cust".encode()}, timeout_s=5
    )
    assert sorted(json.loads(r.value)["id"] for r in records if r.value) == sorted(
        [first["id"], other["id"]]
    )


async def test_partly_bad_batch_accepts_the_good_and_names_each_bad_field(
    client: httpx.AsyncClient, auth_header: Any, kafka_bootstrap: str, unique: str
) -> None:
    good = subscription_created(f"{unique}-good", f"{unique}-good-c")
    bad_seats = subscription_created(f"{unique}-bad", f"{unique}-bad-c")
    bad_seats["data"]["seats"] = 0
    bad_type = usage_reported(f"{unique}-bad2", f"{unique}-bad-c")
    bad_type["type"] = "usage.invented"
    float_money = subscription_created(f"{unique}-bad3", f"{unique}-bad-c")
    float_money["data"]["mrr"]["currency"] = "euro"

    response = await post(client, auth_header(), [bad_seats, good, bad_type, float_money, 7])

    assert response.status_code == 202
    results = response.json()["results"]
    assert [r["status"] for r in results] == [
        "rejected",
        "accepted",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert results[0]["errors"][0]["loc"] == ["data", "seats"]
    assert results[2]["errors"][0]["loc"] == ["type"]
    assert results[3]["errors"][0]["loc"] == ["data", "mrr", "currency"]
    assert results[4]["errors"][0]["msg"] == "each event must be a JSON object"
    rejected_on_topic = await read_topic(
        kafka_bootstrap, BILLING_TOPIC, expect=1, keys={f"{unique}-bad-c".encode()}, timeout_s=3
    )
    assert rejected_on_topic == []


async def test_status_route_tells_when_an_event_was_accepted(
    client: httpx.AsyncClient, auth_header: Any, unique: str
) -> None:
    event = milestone_completed(f"{unique}-status", f"{unique}-c")
    await post(client, auth_header(), event, **SINGLE)
    source = "https%3A%2F%2Fpartner-portal.example.com"

    found = await client.get(f"/v1/events/{source}/{event['id']}", headers=auth_header())
    missing = await client.get(f"/v1/events/{source}/{unique}-nope", headers=auth_header())

    assert found.status_code == 200, found.text
    assert found.json()["type"] == "milestone.completed"
    assert found.json()["source"] == "https://partner-portal.example.com"
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("content", "headers", "status", "error"),
    [
        (b"{not json", SINGLE, 400, "malformed_json"),
        (b"[]", BATCH, 400, "malformed_json"),
        (b'{"a": 1}', BATCH, 400, "malformed_json"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b"{}", {}, 415, "unsupported_media_type"),
        (b"{}", SINGLE, 422, "events_rejected"),
    ],
)
async def test_bad_requests_get_their_status_and_a_named_problem(
    client: httpx.AsyncClient,
    auth_header: Any,
    content: bytes,
    headers: dict[str, str],
    status: int,
    error: str,
) -> None:
    response = await client.post(
        "/v1/events", content=content, headers={**headers, **auth_header()}
    )
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["detail"]


async def test_single_invalid_event_is_422_naming_the_field(
    client: httpx.AsyncClient, auth_header: Any, unique: str
) -> None:
    event = usage_reported(f"{unique}-x", f"{unique}-c")
    del event["data"]["period_end"]
    response = await post(client, auth_header(), event, **SINGLE)
    assert response.status_code == 422
    [result] = response.json()["detail"]
    assert result["status"] == "rejected"
    assert result["errors"][0]["loc"] == ["data", "period_end"]
    assert result["errors"][0]["type"] == "missing"


async def test_values_no_consumer_can_process_are_422_naming_the_field(
    client: httpx.AsyncClient, auth_header: Any, unique: str
) -> None:
    """The events health-scoring used to dead-letter after a 202 (issue 8, item 2)."""
    huge = usage_reported(f"{unique}-huge", f"{unique}-c", value=1e308)
    digits = usage_reported(f"{unique}-digits", f"{unique}-c")
    digits["data"]["value"] = 10**29 + 1  # json.dumps writes all 30 digits
    late = usage_reported(f"{unique}-late", f"{unique}-c")
    late["data"]["period_end"] = "9999-01-01T00:00:00Z"
    late_time = usage_reported(f"{unique}-time", f"{unique}-c")
    late_time["time"] = "9999-01-01T00:00:00Z"
    body = json.dumps([huge, digits, late, late_time])
    response = await client.post("/v1/events", content=body, headers={**BATCH, **auth_header()})
    assert response.status_code == 422
    locs = [result["errors"][0]["loc"] for result in response.json()["detail"]]
    assert locs == [["data", "value"], ["data", "value"], ["data", "period_end"], ["time"]]


async def test_too_large_body_and_too_many_events_are_413(
    client: httpx.AsyncClient, auth_header: Any, unique: str
) -> None:
    too_many = [usage_reported(f"{unique}-{i}", "c") for i in range(1001)]
    response = await post(client, auth_header(), too_many)
    assert response.status_code == 413
    assert "1000" in response.json()["detail"]
    huge = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = await client.post("/v1/events", content=huge, headers={**SINGLE, **auth_header()})
    assert response.status_code == 413


async def test_credentials_are_required_and_must_be_the_ingest_role(
    client: httpx.AsyncClient, auth_header: Any, unique: str
) -> None:
    event = usage_reported(f"{unique}-auth", f"{unique}-c")
    anonymous = await client.post("/v1/events", content=orjson.dumps(event), headers=SINGLE)
    partner = await post(client, auth_header("partner", "p-1"), event, **SINGLE)
    admin = await post(client, auth_header("admin"), event, **SINGLE)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthenticated"
    assert partner.status_code == 403
    assert admin.status_code == 403, "admin reads status, it does not write events"
    status = await client.get(f"/v1/events/x/{unique}", headers=auth_header("partner", "p-1"))
    assert status.status_code == 403


async def test_a_post_without_a_body_still_needs_the_ingest_role(
    client: httpx.AsyncClient, auth_header: Any
) -> None:
    """The shell lets a bodyless request through to its route; the route checks the role."""
    anonymous = await client.post("/v1/events", headers=SINGLE)
    admin = await client.post("/v1/events", headers={**SINGLE, **auth_header("admin")})
    ingestor = await client.post("/v1/events", headers={**SINGLE, **auth_header()})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthenticated"
    assert admin.status_code == 403
    assert ingestor.status_code == 400, "past auth, an empty body is malformed JSON"


async def test_ops_routes(client: httpx.AsyncClient, auth_header: Any, unique: str) -> None:
    await post(client, auth_header(), [usage_reported(f"{unique}-m", "c")])
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    metrics = (await client.get("/metrics")).text
    assert 'fourfold_ingest_events_total{result="accepted"}' in metrics
    assert 'route="/v1/events"' in metrics


async def test_concurrent_requests_with_the_same_event_accept_it_once(
    client: httpx.AsyncClient, auth_header: Any, kafka_bootstrap: str, unique: str
) -> None:
    event = usage_reported(f"{unique}-race", f"{unique}-race-c")
    responses = await asyncio.gather(
        *(post(client, auth_header(), event, **SINGLE) for _ in range(8))
    )
    statuses = sorted(r.json()["results"][0]["status"] for r in responses)
    assert statuses == ["accepted"] + ["duplicate"] * 7
    records = await read_topic(
        kafka_bootstrap, USAGE_TOPIC, expect=2, keys={f"{unique}-race-c".encode()}, timeout_s=3
    )
    assert len(records) == 1


async def test_overlapping_batches_in_opposite_orders_accept_each_event_once(
    client: httpx.AsyncClient, auth_header: Any, unique: str
) -> None:
    shared = [usage_reported(f"{unique}-x{i}", f"{unique}-c{i}") for i in range(50)]
    responses = await asyncio.gather(
        *(post(client, auth_header(), order) for order in [shared, shared[::-1]] * 3)
    )
    assert [r.status_code for r in responses] == [202] * 6
    accepted = sum(r.json()["accepted"] for r in responses)
    assert accepted == len(shared), "each event accepted exactly once across the requests"


async def test_an_id_with_slashes_is_looked_up_by_query(
    client: httpx.AsyncClient, auth_header: Any, unique: str
) -> None:
    event = milestone_completed(f"{unique}/with/slashes", f"{unique}-c")
    await post(client, auth_header(), event, **SINGLE)
    params = {"source": event["source"], "id": event["id"]}

    found = await client.get("/v1/events", params=params, headers=auth_header())
    missing = await client.get(
        "/v1/events", params={**params, "id": f"{unique}/nope"}, headers=auth_header()
    )
    unnamed = await client.get("/v1/events", params={"source": "x"}, headers=auth_header())
    partner = await client.get("/v1/events", params=params, headers=auth_header("partner", "p-1"))

    assert found.status_code == 200, found.text
    assert found.json()["id"] == event["id"]
    assert missing.status_code == 404
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"][0]["loc"] == ["query", "id"]
    assert partner.status_code == 403
