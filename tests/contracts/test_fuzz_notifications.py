"""Schemathesis on notifications' published OpenAPI, against the service running under
uvicorn (consumer, relay and scheduler too) on the real broker and PostgreSQL, with nudges
raised and a channel made first so that reads find data: no server error, every status
documented, every body as its schema says. The delivery worker is off: the fuzzer makes
channels to whatever hosts it likes, and nothing should be sent to them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from fourfold.auth import Role, issue_token
from fourfold.clock import SystemClock
from fourfold.events import parse_event
from fourfold.notifications.app import create_app
from fourfold.notifications.settings import NotificationsSettings
from fourfold.testing import samples
from fourfold.testing.fuzz import fuzz
from fourfold.testing.kafka import produce_raw
from fourfold.testing.serving import serving
from fourfold.testing.wait import wait_until

from .test_fuzz_ingest import drop_schema  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration

SECRET = "fuzz-notifications-secret-fuzz-notifications-0123"
PARTNER, OTHER = "p-1", "p-2"


def bearer(role: Role, partner_id: str | None = None) -> dict[str, str]:
    token = issue_token(
        secret=SECRET,
        issuer="fourfold",
        role=role,
        subject=f"fuzz-{role}",
        partner_id=partner_id,
        now=datetime.now(UTC),
    )
    return {"Authorization": f"Bearer {token}"}


def payment_failed(event_id: str, customer: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "https://billing.example.com",
        "type": "invoice.payment_failed",
        "time": "2026-03-10T10:00:00Z",
        "data": {
            "invoice_id": f"in-{customer}",
            "subscription_id": f"sub-{customer}",
            "customer_id": customer,
            "amount": {"amount": "1250.00", "currency": "EUR"},
            "attempt": 1,
        },
    }


@pytest.fixture
def notifications_served(
    kafka_bootstrap: str, database_url: str
) -> Iterator[tuple[str, Any, dict[str, str]]]:
    unique = uuid.uuid4().hex[:10]
    schema = f"t_{unique}"
    settings = NotificationsSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        database_schema=schema,
        auth_secret=SecretStr(SECRET),
        topic_partitions=3,
        notifications_topic_prefix=f"t{unique}.",
        notifications_consumer_group=f"notifications-{unique}",
        notifications_consumer_session_timeout_ms=6000,
        notifications_evaluate_interval_s=3600,
        notifications_delivery_workers=False,
        log_json=False,
    )
    app = create_app(settings, clock=SystemClock())
    try:
        with serving(app) as base_url:
            yield base_url, app, asyncio.run(seed(settings, base_url))
    finally:
        drop_schema(database_url, schema)


async def seed(settings: NotificationsSettings, base_url: str) -> dict[str, str]:
    """A webhook channel for p-1, then two of its customers and one of p-2 with a failed
    payment (nudges, and deliveries for p-1's): the ids the fuzzer's paths use."""
    async with httpx.AsyncClient(base_url=base_url, headers=bearer("admin")) as client:
        made = await client.post(
            f"/v1/admin/notifications/partners/{PARTNER}/channels",
            json={"kind": "webhook", "target": "http://127.0.0.1:9/hook"},
        )
        assert made.status_code == 201, made.text
        raw = [
            samples.subscription_created("s1", "c-1", PARTNER),
            samples.subscription_created("s2", "c-2", PARTNER),
            samples.subscription_created("s3", "c-3", OTHER),
            payment_failed("f1", "c-1"),
            payment_failed("f2", "c-2"),
            payment_failed("f3", "c-3"),
        ]
        for item in raw:
            event = parse_event(item)
            await produce_raw(
                settings.kafka_bootstrap_servers or "",
                settings.notifications_topic_prefix + event.topic,
                [(event.key.encode(), json.dumps(item).encode())],
            )

        async def raised() -> bool:
            feed = await client.get("/v1/nudges", params={"partner_id": PARTNER})
            return feed.status_code == 200 and len(feed.json()["items"]) >= 2

        await wait_until(raised, 30, "seed nudges raised")
        nudge = (await client.get("/v1/nudges", params={"partner_id": PARTNER})).json()
        log = (await client.get("/v1/admin/notifications/deliveries")).json()
    return {
        "partner_id": PARTNER,
        "nudge_id": nudge["items"][0]["nudge_id"],
        "channel_id": made.json()["channel_id"],
        "delivery_id": log["items"][0]["delivery_id"],
    }


def test_schemathesis_finds_nothing(notifications_served: tuple[str, Any, dict[str, str]]) -> None:
    base_url, app, known = notifications_served
    seen = fuzz(
        app.openapi(), base_url, token_for=lambda method, path: bearer("admin"), known=known
    )
    for path in ("/v1/nudges/{nudge_id}", "/v1/admin/notifications/deliveries"):
        assert seen[("GET", path, 200)], f"the fuzzer never read {path}: {sorted(seen.items())}"
    assert seen[("PATCH", "/v1/admin/notifications/channels/{channel_id}", 200)], "no change"


def test_schemathesis_as_a_partner_finds_nothing(
    notifications_served: tuple[str, Any, dict[str, str]],
) -> None:
    base_url, app, known = notifications_served
    partner = bearer("partner", PARTNER)
    seen = fuzz(
        app.openapi(),
        base_url,
        token_for=lambda method, path: partner,
        max_examples=15,
        known=known,
        skip=lambda method, path: "/admin/" in path,
    )
    assert seen[("GET", "/v1/nudges/{nudge_id}", 200)], sorted(seen.items())
    assert seen[("GET", "/v1/channels", 200)], sorted(seen.items())
