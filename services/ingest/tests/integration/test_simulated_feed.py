"""The simulator posting through the real ingest app, on the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from fourfold.clock import ManualClock
from fourfold.events import INPUT_EVENT_TYPES, USAGE_TOPIC
from fourfold.infra.broker import EmbeddedBroker
from fourfold.simulator.command import post_live
from fourfold.simulator.settings import SimulatorSettings
from fourfold.simulator.sink import IngestPoster
from fourfold.simulator.timeline import Timeline
from fourfold.simulator.vendor import build_vendor
from fourfold.testing.kafka import read_topic
from fourfold.testing.wait import wait_until

from ..conftest import SECRET, make_settings, running_client  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration
START = date(2026, 3, 1)
DAYS = 12


def _timeline(unique: str, customers: int = 8) -> Timeline:
    vendor = build_vendor(
        seed=3, partners=3, customers=customers, signup_days=4, prefix=f"{unique}-"
    )
    return Timeline(vendor, start=START)


async def test_a_simulated_run_lands_on_the_topics_as_sent_and_a_repost_is_all_duplicates(
    kafka_bootstrap: str, database_url: str, fresh_schema: str, unique: str
) -> None:
    timeline = _timeline(unique)
    planned = [p.event for p in timeline.events(DAYS)]
    by_topic: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for event in planned:
        by_topic[INPUT_EVENT_TYPES[event["type"]].topic][event["id"]] = event
    assert len(by_topic) == 3
    assert len(planned) > 100
    # the clock stands after the run: everything is history and goes at once
    clock = ManualClock(datetime(2026, 4, 1, tzinfo=UTC))
    simulator = SimulatorSettings(auth_secret=SecretStr(SECRET), log_json=False)
    notes: list[str] = []

    ingest = running_client(make_settings(kafka_bootstrap, database_url, fresh_schema))
    async with ingest:
        for _ in range(2):
            code = await post_live(
                timeline,
                ingest_url="http://ingest",
                settings=simulator,
                clock=clock,
                days=DAYS,
                batch_size=64,
                transport=httpx.ASGITransport(app=ingest.app),
                report=notes.append,
            )
            assert code == 0, notes

    n = len(planned)
    assert f"posted {n} events: {n} accepted, 0 duplicates, 0 rejected" in notes[1]
    assert f"posted {n} events: 0 accepted, {n} duplicates, 0 rejected" in notes[3]
    for topic, sent in by_topic.items():
        keys = {_key(e) for e in sent.values()}
        records = await read_topic(kafka_bootstrap, topic, expect=len(sent), keys=keys)
        read = {}
        for record in records:
            assert record.value is not None
            published = json.loads(record.value)
            expected = sent[published["id"]]
            assert record.key == _key(expected)
            read[published["id"]] = published
        assert read.keys() == sent.keys(), f"{topic}: each simulated event once"
        for event_id, event in sent.items():
            assert read[event_id]["type"] == event["type"]
            assert datetime.fromisoformat(read[event_id]["time"]) == datetime.fromisoformat(
                event["time"]
            )
            assert read[event_id]["data"] == event["data"]


async def test_the_poster_waits_out_a_broker_outage_and_loses_nothing(
    private_broker: EmbeddedBroker,
    database_url: str,
    fresh_schema: str,
    unique: str,
    tmp_path: Path,
    auth_header: Any,
) -> None:
    settings = make_settings(
        private_broker.bootstrap_servers, database_url, fresh_schema, retry_after_s=1
    )
    usage = [p.event for p in _timeline(unique, customers=4).events(6)]
    usage = [e for e in usage if e["type"] == "usage.reported"]
    ingest = running_client(settings)
    async with ingest:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=ingest.app), base_url="http://ingest"
        )
        token = auth_header()["Authorization"].removeprefix("Bearer ")
        poster = IngestPoster(http, token=token, batch_size=10)
        await poster.send(usage[:1])  # warm: the producer is connected
        assert poster.delivery.accepted == 1

        private_broker.stop()
        sending = asyncio.create_task(poster.send(usage[1:]))

        async def retried() -> bool:
            return poster.delivery.retries >= 1

        await wait_until(retried, timeout_s=30, what="a 503 waited out")
        restarted = EmbeddedBroker(tmp_path / "again", port=private_broker.port).start()
        try:
            await asyncio.wait_for(sending, timeout=60)
            assert poster.delivery.accepted == len(usage)
            assert poster.delivery.rejected == 0
            keys = {e["data"]["customer_id"].encode() for e in usage[1:]}
            records = await read_topic(
                restarted.bootstrap_servers, USAGE_TOPIC, expect=len(usage) - 1, keys=keys
            )
            assert sorted(json.loads(r.value)["id"] for r in records if r.value) == sorted(
                e["id"] for e in usage[1:]
            )
        finally:
            await http.aclose()
            restarted.stop()


def _key(event: dict[str, Any]) -> bytes:
    """The partition key: the customer, or the partner for a partner-level event."""
    return str(event["data"].get("customer_id") or event["data"]["partner_id"]).encode()
