"""Schemathesis on health-scoring's published OpenAPI, against the service running under
uvicorn (consumer, relay and scheduler too) on the real broker and PostgreSQL, with a few
customers scored first so that reads find data: no server error, every status documented,
every body as its schema says."""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from fourfold.clock import SystemClock
from fourfold.events import parse_event
from fourfold.health.app import create_app
from fourfold.health.settings import HealthSettings
from fourfold.testing import samples
from fourfold.testing.fuzz import bearer as fuzz_bearer
from fourfold.testing.fuzz import fuzz
from fourfold.testing.kafka import produce_raw
from fourfold.testing.serving import serving
from fourfold.testing.wait import wait_until

from .test_fuzz_ingest import drop_schema  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration

KNOWN = {"customer_id": "c-1", "partner_id": "p-1"}
SECRET = "fuzz-health-secret-fuzz-health-secret-0123"

bearer = functools.partial(fuzz_bearer, SECRET)


@pytest.fixture
def health_served(kafka_bootstrap: str, database_url: str) -> Iterator[tuple[str, Any]]:
    unique = uuid.uuid4().hex[:10]
    schema = f"t_{unique}"
    settings = HealthSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        database_schema=schema,
        auth_secret=SecretStr(SECRET),
        topic_partitions=3,
        health_topic_prefix=f"t{unique}.",
        health_consumer_group=f"health-{unique}",
        health_consumer_session_timeout_ms=6000,
        health_recompute_interval_s=3600,
        log_json=False,
    )
    app = create_app(settings, clock=SystemClock())
    try:
        with serving(app) as base_url:
            seed(settings, base_url)
            yield base_url, app
    finally:
        drop_schema(database_url, schema)


def seed(settings: HealthSettings, base_url: str) -> None:
    """Two customers of partner p-1 and one of p-2, scored before the fuzzing starts."""
    raw = [
        samples.subscription_created("s1", "c-1", "p-1"),
        samples.subscription_created("s2", "c-2", "p-1"),
        samples.subscription_created("s3", "c-3", "p-2"),
        samples.usage_reported("u1", "c-1"),
        samples.milestone_completed("m1", "c-2", "p-1"),
    ]

    async def produce() -> None:
        for item in raw:
            event = parse_event(item)
            topic = settings.health_topic_prefix + event.topic
            await produce_raw(
                settings.kafka_bootstrap_servers or "",
                topic,
                [(event.key.encode(), json.dumps(item).encode())],
            )

        async def scored() -> bool:
            async with httpx.AsyncClient(base_url=base_url, headers=bearer("admin")) as client:
                response = await client.get("/v1/partners/p-1/customers")
                return response.status_code == 200 and len(response.json()["items"]) == 2

        await wait_until(scored, 30, "seed customers scored")

    asyncio.run(produce())


def test_schemathesis_finds_nothing(health_served: tuple[str, Any]) -> None:
    base_url, app = health_served
    seen = fuzz(
        app.openapi(), base_url, token_for=lambda method, path: bearer("admin"), known=KNOWN
    )
    for path in ("/v1/customers/{customer_id}/health", "/v1/partners/{partner_id}/customers"):
        assert seen[("GET", path, 200)], f"the fuzzer never read {path}: {sorted(seen.items())}"
    assert seen[("PUT", "/v1/admin/health/{customer_id}/override", 200)], "no override placed"


def test_schemathesis_as_a_partner_finds_nothing(health_served: tuple[str, Any]) -> None:
    base_url, app = health_served
    partner = bearer("partner", "p-1")
    seen = fuzz(
        app.openapi(),
        base_url,
        token_for=lambda method, path: partner,
        max_examples=15,
        known=KNOWN,
        skip=lambda method, path: "/admin/" in path,
    )
    assert seen
