"""Broker down: 503 with Retry-After and nothing reported accepted; broker back: it goes through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from fourfold.events import USAGE_TOPIC
from fourfold.infra.broker import EmbeddedBroker
from fourfold.testing.kafka import read_topic
from fourfold.testing.samples import usage_reported

from ..conftest import make_settings, running_client  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration


async def test_outage_answers_503_and_the_retry_after_recovery_goes_through(
    private_broker: EmbeddedBroker,
    database_url: str,
    fresh_schema: str,
    auth_header: Any,
    unique: str,
    tmp_path: Path,
) -> None:
    settings = make_settings(private_broker.bootstrap_servers, database_url, fresh_schema)
    events = [usage_reported(f"{unique}-{i}", f"{unique}-c{i}") for i in range(5)]
    request = {
        "content": orjson.dumps(events),
        "headers": {"Content-Type": "application/cloudevents-batch+json", **auth_header()},
    }
    async with running_client(settings) as client:
        warm = await client.post(
            "/v1/events",
            **request
            | {"content": b"[" + orjson.dumps(usage_reported(f"{unique}-warm", "warm")) + b"]"},
        )
        assert warm.status_code == 202

        private_broker.stop()
        down = await client.post("/v1/events", **request)
        assert down.status_code == 503
        assert down.headers["Retry-After"].isdigit()
        assert down.json()["error"] == "broker_unavailable"
        source = quote(events[0]["source"], safe="")
        status = await client.get(f"/v1/events/{source}/{events[0]['id']}", headers=auth_header())
        assert status.status_code == 404
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503
        all_invalid = await client.post(
            "/v1/events",
            content=b'{"type": "usage.reported"}',
            headers={"Content-Type": "application/cloudevents+json", **auth_header()},
        )
        assert all_invalid.status_code == 422, "invalid input is the client's, not an outage"

        restarted = EmbeddedBroker(tmp_path / "again", port=private_broker.port).start()
        try:
            again = await client.post("/v1/events", **request)
            assert again.status_code == 202, again.text
            assert again.json()["accepted"] == 5, "nothing was remembered during the outage"
            records = await read_topic(
                restarted.bootstrap_servers,
                USAGE_TOPIC,
                expect=5,
                keys={e["data"]["customer_id"].encode() for e in events},
            )
            assert sorted(json.loads(r.value)["id"] for r in records if r.value) == sorted(
                e["id"] for e in events
            )
        finally:
            restarted.stop()
