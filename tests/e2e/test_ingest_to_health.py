"""A vendor's events go through ingest and the broker into health-scoring: the partner sees
the customer's health, a resent batch changes nothing, and `health.changed` is published."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from fourfold.events import (
    ACTIVITY_TOPIC,
    BILLING_TOPIC,
    HEALTH_TOPIC,
    USAGE_TOPIC,
    HealthChanged,
    parse_event,
)
from fourfold.testing.kafka import read_topic
from fourfold.testing.samples import milestone_completed, subscription_created, usage_reported
from fourfold.testing.wait import wait_until

if TYPE_CHECKING:
    from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
BATCH = {"Content-Type": "application/cloudevents-batch+json"}
MILESTONES = ("kickoff", "configured", "users_trained", "first_value")


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def vendor_batch(unique: str, customer: str, partner: str) -> list[dict[str, Any]]:
    """40 days in: 10 seats, 8 daily users, 6 features used, onboarding milestones done.
    `seats_used` comes last on its topic, so once it shows every usage event has folded."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=40)
    created = subscription_created(f"{unique}-created", customer, partner)
    created["time"] = iso(start)
    created["data"].update(
        seats=10,
        features_available=10,
        start_date=start.date().isoformat(),
        term_end=(start + timedelta(days=365)).date().isoformat(),
    )
    events = [created]
    usage = [("active_users", 8, d) for d in range(1, 15)]
    usage += [(f"feature:f{i}", 1, 2) for i in range(6)] + [("seats_used", 8, 1)]
    for n, (metric, value, days_ago) in enumerate(usage):
        event = usage_reported(f"{unique}-u{n}", customer, value)
        begin = today - timedelta(days=days_ago)
        event["time"] = iso(begin + timedelta(days=1))
        event["data"].update(
            metric=metric, period_start=iso(begin), period_end=iso(begin + timedelta(days=1))
        )
        events.append(event)
    for n, name in enumerate(MILESTONES):
        event = milestone_completed(f"{unique}-m{n}", customer, partner)
        event["time"] = event["data"]["completed_at"] = iso(start + timedelta(days=3 + n))
        event["data"]["milestone"] = name
        events.append(event)
    return events


async def post_batch(stack: Stack, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = await stack.ingest.post(
        "/v1/events", content=orjson.dumps(events), headers={**BATCH, **stack.auth("ingest")}
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def scored(stack: Stack, customer: str, partner: str) -> dict[str, Any]:
    """The customer's health as `partner` sees it once every event of the batch has folded."""
    seen: dict[str, Any] = {}

    async def folded() -> bool:
        response = await stack.health.get(
            f"/v1/customers/{customer}/health", headers=stack.auth("partner", partner)
        )
        if response.status_code != 200:
            assert response.status_code == 404, response.text
            return False
        seen.update(response.json())
        signals = seen["signals"]
        return bool(
            signals["seats"] == 10
            and signals["seats_in_use"] == 8
            and set(signals["milestones"]) == set(MILESTONES)
        )

    await wait_until(folded, timeout_s=30, what=f"{customer} scored from every event")
    return seen


async def points(stack: Stack, customer: str) -> list[dict[str, Any]]:
    """The customer's score history points (the default range ends now)."""
    response = await stack.health.get(
        f"/v1/customers/{customer}/health/history", headers=stack.auth("admin")
    )
    assert response.status_code == 200, response.text
    history: list[dict[str, Any]] = response.json()["points"]
    return history


async def health_changed(stack: Stack, customer: str, expect: int = 1) -> list[HealthChanged]:
    """The `health.changed` records on the topic for `customer` (by version), parsed."""
    records = await read_topic(
        stack.bootstrap, HEALTH_TOPIC, expect=expect, timeout_s=3, keys={customer.encode()}
    )
    events = [parse_event(r.value) for r in records if r.value is not None]
    changed = [e for e in events if isinstance(e, HealthChanged)]
    assert changed == events, "only health.changed on the topic"
    return sorted(changed, key=lambda e: int(e.id.rsplit("-", 1)[1]))


async def published(stack: Stack, health: dict[str, Any]) -> list[HealthChanged]:
    """Wait until the latest `health.changed` for the customer shows `health`; return all."""
    customer, found = health["customer_id"], list[HealthChanged]()

    async def caught_up() -> bool:
        found[:] = await health_changed(stack, customer)
        shown = (health["score"], health["band"], health["step"])
        return bool(found) and shown == (
            found[-1].data.score,
            found[-1].data.band.value,
            found[-1].data.step.value,
        )

    await wait_until(caught_up, timeout_s=30, what=f"health.changed for {customer} published")
    return found


async def test_partner_sees_health_of_a_customer_posted_to_ingest(
    stack: Stack, unique: str
) -> None:
    customer, partner, other = f"c-{unique}", f"p-{unique}", f"q-{unique}"
    events = vendor_batch(unique, customer, partner)

    posted = await post_batch(stack, events)
    assert (posted["accepted"], posted["duplicates"], posted["rejected"]) == (len(events), 0, 0)

    health = await scored(stack, customer, partner)
    assert health["partner_id"] == partner
    assert 0 <= health["score"] <= 100
    assert health["band"] in {"red", "yellow", "green"}
    assert health["step"] == "improve", health["step_reasons"]
    assert health["signals"]["arr"] == {"amount": "15000.00", "currency": "EUR"}
    assert health["components"], "the explanation names each component's part"
    contributions = sum(c["contribution"] for c in health["components"])
    assert contributions == pytest.approx(health["computed_score"], abs=1)

    book = await stack.health.get(
        f"/v1/partners/{partner}/customers", headers=stack.auth("partner", partner)
    )
    assert book.status_code == 200, book.text
    [entry] = book.json()["items"]
    assert (entry["customer_id"], entry["score"]) == (customer, health["score"])

    hidden = await stack.health.get(
        f"/v1/customers/{customer}/health", headers=stack.auth("partner", other)
    )
    assert hidden.status_code == 404
    assert hidden.json()["error"] == "not_found"
    others = await stack.health.get(
        f"/v1/partners/{other}/customers", headers=stack.auth("partner", other)
    )
    assert others.json()["items"] == []


async def test_the_same_batch_again_is_reported_duplicate_and_changes_nothing(
    stack: Stack, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    events = vendor_batch(unique, customer, partner)
    await post_batch(stack, events)
    before = await scored(stack, customer, partner)
    history = await points(stack, customer)
    versions = [e.id for e in await published(stack, before)]

    again = await post_batch(stack, events)

    assert (again["accepted"], again["duplicates"]) == (0, len(events))
    keys = {customer.encode()}
    *on_inputs, on_health = await asyncio.gather(
        *(
            read_topic(stack.bootstrap, topic, expect=len(events) + 1, timeout_s=3, keys=keys)
            for topic in (BILLING_TOPIC, USAGE_TOPIC, ACTIVITY_TOPIC)
        ),
        health_changed(stack, customer, expect=len(versions) + 1),
    )
    assert sum(map(len, on_inputs)) == len(events), "nothing republished"
    assert [e.id for e in on_health] == versions, "no new health version"
    after = await stack.health.get(
        f"/v1/customers/{customer}/health", headers=stack.auth("partner", partner)
    )
    assert after.json() == before
    assert await points(stack, customer) == history


async def test_health_changed_is_published_for_the_customer(stack: Stack, unique: str) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    await post_batch(stack, vendor_batch(unique, customer, partner))
    health = await scored(stack, customer, partner)

    events = await published(stack, health)

    assert [e.id for e in events] == [f"health-{customer}-{v}" for v in range(1, len(events) + 1)]
    latest = events[-1]
    assert latest.type == "health.changed"
    assert (latest.data.customer_id, latest.data.partner_id) == (customer, partner)
    assert latest.data.scorecard_version == health["scorecard_version"]
    assert latest.data.signals.seats == 10
