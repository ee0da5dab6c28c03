"""The simulator's Stripe-shaped output, through ingest's Stripe adapter, tells the same story
of customers and subscriptions as its plain CloudEvents output through `POST /v1/events`.

One run of the simulated vendor is posted twice into a real ingest (on the real broker and
PostgreSQL): plainly, and with `--stripe` (billing as signed Stripe webhooks, the rest as
CloudEvents; its usage and activity are then duplicates of the first posting). What ingest
published to `billing.subscriptions` for each, told apart by `source`, is folded into every
subscription's end state (customer, partner, plan, seats, MRR, add-ons, term end,
cancellation date) and every invoice's outcome; the two must be equal.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from fourfold.clock import ManualClock
from fourfold.events import BILLING_TOPIC
from fourfold.ingest.app import create_app as create_ingest_app
from fourfold.ingest.settings import IngestSettings
from fourfold.simulator.command import post_live
from fourfold.simulator.settings import SimulatorSettings
from fourfold.simulator.timeline import Timeline
from fourfold.simulator.vendor import build_vendor
from fourfold.simulator.wire import BILLING_SOURCE
from fourfold.testing.kafka import read_topic

from .conftest import SECRET, running

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

START = date(2025, 1, 6)
DAYS = 400
"""Long enough for renewals, add-ons and every cancellation to take effect."""
WEBHOOK_SECRET = "whsec_simulated_vendor_e2e"
STRIPE_SOURCE = "https://api.stripe.com"
"""ingest's default `FOURFOLD_INGEST_STRIPE_SOURCE`."""


@pytest.fixture
async def ingest(
    kafka_bootstrap: str, database_url: str, fresh_schema: str
) -> AsyncIterator[httpx.ASGITransport]:
    """A transport to ingest's app while its lifespan runs, the Stripe adapter on."""
    settings = IngestSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        database_schema=fresh_schema,
        auth_secret=SecretStr(SECRET),
        topic_partitions=3,
        publish_timeout_s=5.0,
        ingest_stripe_webhook_secret=SecretStr(WEBHOOK_SECRET),
        log_json=False,
    )
    app = create_ingest_app(settings, clock=CLOCK)
    async with running(app, "ingest"):
        yield httpx.ASGITransport(app=app)


CLOCK = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
"""After the run: every event is history and goes at once."""


def _timeline(prefix: str) -> Timeline:
    vendor = build_vendor(seed=21, partners=4, customers=14, signup_days=30, prefix=prefix)
    return Timeline(vendor, start=START)


async def _post(ingest: httpx.ASGITransport, prefix: str, *, stripe: bool) -> list[str]:
    notes: list[str] = []
    code = await post_live(
        _timeline(prefix),
        ingest_url="http://ingest",
        settings=SimulatorSettings(auth_secret=SecretStr(SECRET), log_json=False),
        clock=CLOCK,
        days=DAYS,
        transport=ingest,
        stripe_secret=WEBHOOK_SECRET if stripe else None,
        report=notes.append,
    )
    assert code == 0, notes
    return notes


def _fold(events: list[dict[str, Any]], prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each subscription's end state and each invoice's outcomes, ids without `prefix`."""
    subscriptions: dict[str, dict[str, Any]] = {}
    invoices: dict[str, list[tuple[str, Decimal, int | None]]] = {}
    for event in sorted(events, key=lambda e: (datetime.fromisoformat(e["time"]), e["id"])):
        kind, data = event["type"], event["data"]
        if kind.startswith("invoice."):
            key = data["invoice_id"].removeprefix("inv-").removeprefix(prefix)
            invoices.setdefault(key, []).append(
                (kind, Decimal(data["amount"]["amount"]), data.get("attempt"))
            )
            continue
        sub = subscriptions.setdefault(data["subscription_id"].replace(prefix, ""), {})
        sub["customer"] = data["customer_id"].removeprefix(prefix)
        sub["partner"] = data["partner_id"].removeprefix(prefix)
        if "plan" in data:
            sub["plan"] = data["plan"]
        if "seats" in data:
            sub["seats"] = data["seats"]
        if "mrr" in data:
            sub["mrr"] = Decimal(data["mrr"]["amount"])
        if "term_end" in data:
            sub["term_end"] = data["term_end"]
        if kind == "subscription.addon_added":
            sub.setdefault("addons", []).append(data["addon"])
        if kind == "subscription.cancelled":
            sub["ends"] = data["effective_date"]
    return subscriptions, invoices


async def test_stripe_webhooks_give_the_same_customers_and_subscriptions_as_cloudevents(
    ingest: httpx.ASGITransport, kafka_bootstrap: str, unique: str
) -> None:
    prefix = f"{unique}-"
    plain_notes = await _post(ingest, prefix, stripe=False)
    stripe_notes = await _post(ingest, prefix, stripe=True)
    assert "billing as Stripe webhooks" in stripe_notes[0]
    # the cancellation notices are acknowledged and ignored: Stripe's deletion carries them
    assert "ignored by the Stripe adapter" in stripe_notes[-1], stripe_notes
    assert "0 rejected" in plain_notes[-1]
    assert "0 rejected" in stripe_notes[-1]

    records = await read_topic(kafka_bootstrap, BILLING_TOPIC, expect=10**9, timeout_s=8)
    published = [json.loads(r.value) for r in records if r.value is not None]
    ours = [e for e in published if e["data"]["customer_id"].startswith(prefix)]
    assert {e["source"] for e in ours} == {BILLING_SOURCE, STRIPE_SOURCE}
    plain_subscriptions, plain_invoices = _fold(
        [e for e in ours if e["source"] == BILLING_SOURCE], prefix
    )
    stripe_subscriptions, stripe_invoices = _fold(
        [e for e in ours if e["source"] == STRIPE_SOURCE], prefix
    )

    assert len(plain_subscriptions) == 14
    assert any("addons" in s for s in plain_subscriptions.values())
    assert any("ends" in s for s in plain_subscriptions.values())
    assert stripe_subscriptions == plain_subscriptions
    assert stripe_invoices == plain_invoices
