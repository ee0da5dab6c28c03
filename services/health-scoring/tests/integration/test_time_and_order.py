"""Event time, not arrival, places usage; the clock alone moves an idle customer's score."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Make, Service

pytestmark = pytest.mark.integration


def engagement(health: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in health["components"] if c["name"] == "engagement")
    return found


async def test_late_usage_lands_at_its_event_time(
    service: Service, make: Make, unique: str
) -> None:
    customer = f"c-{unique}"
    now = service.clock.now()
    recent = make.daily_users(customer, 10, range(1, 6))  # 5 days in the last 30
    newest_seats = make.usage(customer, "seats_used", 8, now - timedelta(days=1))
    first = [make.created(customer, f"p-{unique}"), *recent, newest_seats]
    await service.produce(first)
    await service.settled(len(first))

    # Arriving now, but about days 31..40 ago (the prior window) and an older seat reading.
    late = make.daily_users(customer, 10, range(31, 41))
    stale_seats = make.usage(
        customer, "seats_used", 2, now - timedelta(days=10), sent=now + timedelta(minutes=1)
    )
    await service.produce([*late, stale_seats])
    await service.settled(len(first) + len(late) + 1)

    health = await service.get(f"/v1/customers/{customer}/health")
    inputs = engagement(health)["inputs"]
    assert inputs["recent_avg_active_users"] == pytest.approx(50 / 30)
    assert inputs["prior_avg_active_users"] == pytest.approx(100 / 30)
    assert inputs["ratio"] == pytest.approx(0.5)
    assert engagement(health)["score"] == 0.0
    assert health["signals"]["seats_in_use"] == 8, "the older reading did not win"


async def test_scheduled_recompute_decays_an_idle_customer(
    service: Service, make: Make, unique: str
) -> None:
    customer = f"c-{unique}"
    events = make.healthy(customer, f"p-{unique}")
    await service.produce(events)
    await service.settled(len(events))
    before = await service.get(f"/v1/customers/{customer}/health")
    assert engagement(before)["score"] == 1.0

    service.clock.advance(timedelta(days=40))  # no usage since: the windows move on
    rescored = await service.app.state.recomputer.recompute_due(service.clock.now())
    assert rescored >= 1

    after = await service.get(f"/v1/customers/{customer}/health")
    assert engagement(after)["score"] == 0.0
    assert after["score"] < before["score"]
    assert after["scored_at"] > before["scored_at"]
    history = await service.get(f"/v1/customers/{customer}/health/history")
    assert history["points"][-1]["cause"] == "schedule"
    assert history["points"][-1]["score"] == after["score"]

    version = await service.scalar(
        "SELECT version FROM customers WHERE customer_id = :c", c=customer
    )
    published = await service.health_events(customer, expect=version)
    latest = max(published, key=lambda e: int(e.id.rsplit("-", 1)[1]))
    assert latest.data.score == after["score"]
    assert latest.data.previous_score == before["score"]
    assert latest.data.signals.active_users_30d == 0

    again = await service.app.state.recomputer.recompute_due(service.clock.now())
    assert again == 0, "nothing is due until time moves again"
