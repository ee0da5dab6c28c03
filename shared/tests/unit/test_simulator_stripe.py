"""The simulator's Stripe-shaped output: what replaces what, determinism, and how it is posted.

That ingest's adapter makes the same subscriptions of it as of the plain output is tested on
the real ingest in tests/e2e/test_simulated_stripe.py; here the poster talks to a small
scripted ASGI app (the outer boundary) that checks signatures as Stripe's documentation says.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from fourfold.clock import ManualClock
from fourfold.simulator.command import SimulateOptions, simulate
from fourfold.simulator.settings import SimulatorSettings
from fourfold.simulator.sink import IngestPoster, StripePoster
from fourfold.simulator.stripe import StripeTimeline, is_stripe
from fourfold.simulator.timeline import Timeline
from fourfold.simulator.vendor import build_vendor

START = date(2026, 1, 5)
SECRET = "whsec_unit"
BILLING = ("subscription.", "invoice.")


def _timeline() -> Timeline:
    return Timeline(build_vendor(seed=4, partners=3, customers=12, signup_days=20), start=START)


def test_billing_events_become_stripe_events_and_the_rest_stays_as_it_was() -> None:
    plain = list(_timeline().events(400))
    shaped = list(StripeTimeline(_timeline()).events(400))
    kept = [p.event for p in plain if not p.event["type"].startswith(BILLING)]
    assert [p.event for p in shaped if not is_stripe(p.event)] == kept
    stripe = [p.event for p in shaped if is_stripe(p.event)]
    assert {e["api_version"] for e in stripe} == {"2024-06-20"}
    types = Counter(e["type"] for e in stripe)
    billing = Counter(p.event["type"] for p in plain if p.event["type"].startswith(BILLING))
    assert types["customer.subscription.created"] == billing["subscription.created"]
    assert types["invoice.paid"] == billing["invoice.paid"]
    assert types["invoice.payment_failed"] == billing["invoice.payment_failed"]
    changes = sum(billing[f"subscription.{k}"] for k in ("expanded", "contracted", "renewed"))
    changes += billing["subscription.addon_added"] + billing["subscription.cancelled"]
    assert types["customer.subscription.updated"] == changes  # a notice is an update too
    # each cancellation is deleted on its effective day (inside the run), at midnight
    end = (START + timedelta(days=400)).isoformat()
    cancelled = {
        p.event["data"]["subscription_id"]: p.event["data"]["effective_date"]
        for p in plain
        if p.event["type"] == "subscription.cancelled" and p.event["data"]["effective_date"] < end
    }
    deleted = {
        e["data"]["object"]["id"]: datetime.fromtimestamp(e["created"], UTC).date().isoformat()
        for e in stripe
        if e["type"] == "customer.subscription.deleted"
    }
    assert deleted == cancelled
    assert cancelled


def test_the_stripe_run_is_the_same_bytes_every_time_in_time_order() -> None:
    first = [orjson.dumps(p.event) for p in StripeTimeline(_timeline()).events(200)]
    again = [orjson.dumps(p.event) for p in StripeTimeline(_timeline()).events(200)]
    assert first == again
    times = [p.at for p in StripeTimeline(_timeline()).events(200)]
    assert times == sorted(times)
    ids = [p.event["id"] for p in StripeTimeline(_timeline()).events(200)]
    assert len(ids) == len(set(ids))


class StripeAndEvents:
    """Checks each webhook's signature as Stripe documents it; answers `mapped` (or, for a
    subscription update without changed items, `ignored`); accepts every CloudEvent."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        raw = await request.body()
        if scope["path"] == "/v1/webhooks/stripe":
            header = dict(
                part.split("=", 1) for part in request.headers["stripe-signature"].split(",")
            )
            signed = hmac.new(SECRET.encode(), f"{header['t']}.".encode() + raw, hashlib.sha256)
            assert hmac.compare_digest(signed.hexdigest(), header["v1"])
            event = orjson.loads(raw)
            self.calls.append(("stripe", (int(header["t"]), event["type"])))
            previous = event["data"].get("previous_attributes") or {}
            outcome = "ignored" if "cancel_at" in previous else "mapped"
            answer = JSONResponse({"outcome": outcome, "published": [event["id"]]})
        else:
            body = orjson.loads(raw)
            self.calls.append(("events", len(body)))
            results = [
                {"index": i, "id": e["id"], "status": "accepted"} for i, e in enumerate(body)
            ]
            answer = JSONResponse({"results": results}, status_code=202)
        await answer(scope, receive, send)


async def test_the_poster_signs_each_stripe_event_on_its_clock_and_keeps_the_order() -> None:
    clock = ManualClock(datetime(2027, 3, 1, 12, tzinfo=UTC))
    events = [p.event for p in StripeTimeline(_timeline()).events(120)]
    app = StripeAndEvents()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingest"
    ) as http:
        poster = StripePoster(IngestPoster(http, token="t"), secret=SECRET, clock=clock)
        await poster.send(events)
    stripe = [e for e in events if is_stripe(e)]
    sent = [what for kind, what in app.calls if kind == "stripe"]
    assert [t for _, t in sent] == [e["type"] for e in stripe]  # in order, one POST each
    assert {t for t, _ in sent} == {int(clock.now().timestamp())}
    assert sum(n for kind, n in app.calls if kind == "events") == len(events) - len(stripe)
    notices = sum(1 for e in stripe if "cancel_at" in (e["data"].get("previous_attributes") or {}))
    delivery = poster.delivery
    assert (delivery.ignored, delivery.rejected) == (notices, 0)
    assert delivery.accepted == len(events) - notices


def test_stripe_is_a_flag_for_the_live_mode_with_a_secret() -> None:
    notes: list[str] = []
    out = SimulateOptions(stripe=True, out=Path("x.ndjson"))
    assert simulate(out, SimulatorSettings(), report=notes.append) == 2
    assert "--stripe is for the live mode" in notes[-1]
    live = SimulateOptions(stripe=True, ingest_url="http://ingest")
    assert simulate(live, SimulatorSettings(), report=notes.append) == 2
    assert "FOURFOLD_SIMULATOR_STRIPE_SECRET" in notes[-1]
