"""Group commit: concurrent requests share one claim and one flush, and keep every promise.

Each request is answered only after the broker acknowledged its group; duplicates within
a group, inside one request or across two, are reported as such and published once; an
outage fails every request of the group and remembers none of their events.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from fourfold.clock import SystemClock
from fourfold.events import USAGE_TOPIC
from fourfold.infra.broker import EmbeddedBroker
from fourfold.ingest import intake
from fourfold.ingest.runtime import IngestRuntime
from fourfold.testing.kafka import read_topic
from fourfold.testing.samples import usage_reported

from ..conftest import make_settings, running_client  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration

SINGLE = {"Content-Type": "application/cloudevents+json"}
BATCH = {"Content-Type": "application/cloudevents-batch+json"}


def groups_so_far() -> float:
    return REGISTRY.get_sample_value("fourfold_ingest_group_requests_count") or 0.0


async def test_concurrent_single_events_share_groups_and_each_202_is_on_the_broker(
    client: httpx.AsyncClient, auth_header: Any, kafka_bootstrap: str, unique: str
) -> None:
    events = [usage_reported(f"{unique}-{i}", f"{unique}-c{i}") for i in range(32)]
    before = groups_so_far()
    responses = await asyncio.gather(
        *(
            client.post("/v1/events", content=orjson.dumps(e), headers={**SINGLE, **auth_header()})
            for e in events
        )
    )
    groups = groups_so_far() - before

    assert [r.status_code for r in responses] == [202] * len(events)
    assert [r.json()["accepted"] for r in responses] == [1] * len(events)
    assert groups < len(events), "concurrent requests were published together"
    records = await read_topic(
        kafka_bootstrap,
        USAGE_TOPIC,
        expect=len(events),
        keys={e["data"]["customer_id"].encode() for e in events},
    )
    assert sorted(json.loads(r.value)["id"] for r in records if r.value) == sorted(
        e["id"] for e in events
    ), "every event answered 202 was acknowledged by the broker, once"


async def test_duplicates_within_and_across_the_requests_of_a_group_are_published_once(
    client: httpx.AsyncClient, auth_header: Any, kafka_bootstrap: str, unique: str
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    rt: IngestRuntime = app.state.runtime
    e1, e2, e3, old = (usage_reported(f"{unique}-{n}", f"{unique}-c") for n in "123o")
    earlier = await client.post(
        "/v1/events", content=orjson.dumps(old), headers={**SINGLE, **auth_header()}
    )
    assert earlier.json()["accepted"] == 1
    bad = {**e3, "time": "soon"}
    requests = []
    for items in ([e1, e2, e1], [e2, bad, e3], [old]):
        valid, rejected = intake.validate(items)
        requests.append(intake.Request(valid, rejected))
    producer, _ = await rt.ready_producer()

    outcomes = await intake.accept_group(
        requests, claims=rt.claims, producer=producer, clock=SystemClock()
    )

    statuses = [[r["status"] for r in outcome["results"]] for outcome in outcomes]
    assert statuses == [
        ["accepted", "accepted", "duplicate"],
        ["duplicate", "rejected", "accepted"],
        ["duplicate"],
    ]
    assert [(o["accepted"], o["duplicates"], o["rejected"]) for o in outcomes] == [
        (2, 1, 0),
        (1, 1, 1),
        (0, 1, 0),
    ]
    records = await read_topic(
        kafka_bootstrap, USAGE_TOPIC, expect=5, keys={f"{unique}-c".encode()}, timeout_s=3
    )
    published = sorted(json.loads(r.value)["id"] for r in records if r.value)
    assert published == sorted(e["id"] for e in (e1, e2, e3, old))


async def test_an_outage_fails_every_request_of_the_group_and_remembers_none(
    private_broker: EmbeddedBroker,
    database_url: str,
    fresh_schema: str,
    auth_header: Any,
    unique: str,
    tmp_path: Path,
) -> None:
    settings = make_settings(private_broker.bootstrap_servers, database_url, fresh_schema)
    events = [usage_reported(f"{unique}-{i}", f"{unique}-c{i}") for i in range(8)]

    async def post_all(http: httpx.AsyncClient) -> list[httpx.Response]:
        return await asyncio.gather(
            *(
                http.post(
                    "/v1/events", content=orjson.dumps(e), headers={**SINGLE, **auth_header()}
                )
                for e in events
            )
        )

    async with running_client(settings) as client:
        warm = usage_reported(f"{unique}-warm", "warm")
        ok = await client.post(
            "/v1/events", content=orjson.dumps([warm]), headers={**BATCH, **auth_header()}
        )
        assert ok.status_code == 202

        private_broker.stop()
        down = await post_all(client)
        assert [r.status_code for r in down] == [503] * len(events)
        assert {r.json()["error"] for r in down} == {"broker_unavailable"}

        restarted = EmbeddedBroker(tmp_path / "again", port=private_broker.port).start()
        try:
            again = await post_all(client)
            assert [r.status_code for r in again] == [202] * len(events), again[0].text
            assert [r.json()["accepted"] for r in again] == [1] * len(events), (
                "nothing was remembered during the outage"
            )
        finally:
            restarted.stop()
