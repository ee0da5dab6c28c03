"""Schemathesis on the incentives service's published OpenAPI, against the service running
under uvicorn (consumer, relay and pruner too) on the real broker and PostgreSQL, with a
small ledger accrued first (two partners, entries in a past period, a dispute) so that reads
find data: no server error, every status documented, every body as its schema says."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from fourfold.clock import SystemClock
from fourfold.incentives.app import create_app
from fourfold.incentives.domain.program import default_program_text, parse_program
from fourfold.incentives.samples import Customer
from fourfold.incentives.settings import IncentivesSettings
from fourfold.testing.fuzz import bearer as fuzz_bearer
from fourfold.testing.fuzz import fuzz
from fourfold.testing.kafka import produce_raw
from fourfold.testing.serving import serving
from fourfold.testing.wait import wait_until

from .test_fuzz_ingest import drop_schema  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration

SECRET = "fuzz-incentives-secret-fuzz-incentives-01"
PERIOD = "2026-01"
"""The seeded events' month: over, and past the 30-day hold, whenever the test runs."""

bearer = functools.partial(fuzz_bearer, SECRET)


@pytest.fixture
def incentives_served(
    kafka_bootstrap: str, database_url: str
) -> Iterator[tuple[str, Any, dict[str, str]]]:
    unique = uuid.uuid4().hex[:10]
    schema = f"t_{unique}"
    settings = IncentivesSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        database_schema=schema,
        auth_secret=SecretStr(SECRET),
        topic_partitions=3,
        incentives_topic_prefix=f"t{unique}.",
        incentives_consumer_group=f"incentives-{unique}",
        incentives_consumer_session_timeout_ms=6000,
        log_json=False,
    )
    app = create_app(settings, clock=SystemClock())
    try:
        with serving(app) as base_url:
            yield base_url, app, seed(settings, base_url)
    finally:
        drop_schema(database_url, schema)


def seed(settings: IncentivesSettings, base_url: str) -> dict[str, str]:
    """Entries for p-1 (USD and JPY customers) and p-2 in PERIOD, and a dispute of p-1's:
    the path values the fuzzer reads with."""
    at = datetime(2026, 1, 10, 9, tzinfo=UTC)
    usd, jpy, other = Customer("c-1", "p-1"), Customer("c-2", "p-1", "JPY"), Customer("c-3", "p-2")
    events = [
        usd.created(at, "1000.00"),
        usd.milestone(at.replace(day=20), "first_value"),
        jpy.created(at, "100000"),
        other.created(at, "500.00"),
    ]

    async def produce() -> dict[str, str]:
        by_topic: dict[str, list[tuple[bytes | None, bytes]]] = defaultdict(list)
        for event in events:
            topic = settings.incentives_topic_prefix + event.topic
            by_topic[topic].append((event.key.encode(), event.to_json_bytes()))
        for topic, records in by_topic.items():
            await produce_raw(settings.kafka_bootstrap_servers or "", topic, records)
        async with httpx.AsyncClient(base_url=base_url, headers=bearer("admin")) as client:
            entries: list[dict[str, Any]] = []

            async def accrued() -> bool:
                nonlocal entries
                response = await client.get("/v1/incentives/partners/p-1/entries")
                entries = response.json()["items"] if response.status_code == 200 else []
                return len(entries) == 3

            await wait_until(accrued, 30, "seed entries accrued")
            opened = await client.post(
                "/v1/incentives/partners/p-1/disputes",
                json={"entry_id": entries[0]["entry_id"], "comment": "seeded"},
            )
            assert opened.status_code == 201, opened.text
        return {
            "partner_id": "p-1",
            "entry_id": entries[0]["entry_id"],
            "dispute_id": opened.json()["dispute_id"],
            "period": PERIOD,
            "version": parse_program(default_program_text()).version,
        }

    return asyncio.run(produce())


def test_schemathesis_finds_nothing(incentives_served: tuple[str, Any, dict[str, str]]) -> None:
    base_url, app, known = incentives_served
    seen = fuzz(
        app.openapi(),
        base_url,
        token_for=lambda method, path: bearer("admin"),
        max_examples=20,
        known=known,
    )
    for path in (
        "/v1/incentives/partners/{partner_id}/entries",
        "/v1/incentives/partners/{partner_id}/entries/{entry_id}",
        "/v1/incentives/partners/{partner_id}/statements/{period}",
        "/v1/incentives/partners/{partner_id}/disputes/{dispute_id}",
        "/v1/admin/incentives/programs/{version}",
    ):
        assert seen[("GET", path, 200)], f"the fuzzer never read {path}: {sorted(seen.items())}"


def test_schemathesis_as_a_partner_finds_nothing(
    incentives_served: tuple[str, Any, dict[str, str]],
) -> None:
    base_url, app, known = incentives_served
    partner = bearer("partner", "p-1")
    seen = fuzz(
        app.openapi(),
        base_url,
        token_for=lambda method, path: partner,
        max_examples=10,
        known=known,
        skip=lambda method, path: "/admin/" in path,
    )
    assert seen[("GET", "/v1/incentives/partners/{partner_id}/balance", 200)], sorted(seen)
