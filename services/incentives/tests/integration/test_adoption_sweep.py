"""The adoption sweep: a customer who goes green and then sends nothing still earns its
adoption bonus once the streak completes, exactly once, whichever of the sweep and the
event path sees it first (default program: 400 USD after 60 green days from first_value)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from fourfold.incentives.samples import Customer

if TYPE_CHECKING:
    from conftest import Service

pytestmark = pytest.mark.integration


async def test_a_streak_no_event_closes_is_paid_once_by_the_sweep(
    service: Service, unique: str
) -> None:
    sweep = service.app.state.adoption_sweep
    now = service.clock.now()
    c = Customer(f"c-{unique}", f"p-{unique}")
    green_at = now - timedelta(days=5)
    await service.produce(
        [
            c.created(now - timedelta(days=20), "1000.00"),
            c.milestone(now - timedelta(days=10), "first_value"),
            c.health(green_at, "green"),
        ]
    )
    await service.wait_processed(3)
    assert await sweep.sweep(service.clock.now()) == 0  # green for 5 days only

    service.clock.advance(timedelta(days=56))  # 61 days green, and no further event
    assert await sweep.sweep(service.clock.now()) == 1
    bonuses = [r for r in await service.entries(c.customer_id) if r.rule == "adoption_bonus"]
    assert [(Decimal(r.amount), r.event_time) for r in bonuses] == [
        (Decimal("400.00"), green_at + timedelta(days=60))
    ]
    assert bonuses[0].source_event_id == f"adoption:{c.customer_id}"

    assert await sweep.sweep(service.clock.now()) == 0
    # the customer's next event walks the same streak: it finds the bonus and adds nothing
    await service.produce([c.renewed(service.clock.now())])
    await service.wait_processed(4)
    rules = [r.rule for r in await service.entries(c.customer_id)]
    assert rules.count("adoption_bonus") == 1
    assert "renewal" in rules


async def test_the_sweep_pays_nothing_to_a_streak_broken_before_it_completed(
    service: Service, unique: str
) -> None:
    sweep = service.app.state.adoption_sweep
    now = service.clock.now()
    c = Customer(f"c-{unique}", f"p-{unique}")
    await service.produce(
        [
            c.created(now - timedelta(days=20), "1000.00"),
            c.milestone(now - timedelta(days=10), "first_value"),
            c.health(now - timedelta(days=9), "green"),
            c.health(now - timedelta(days=2), "yellow", previous="green"),
        ]
    )
    await service.wait_processed(4)
    service.clock.advance(timedelta(days=90))
    assert await sweep.sweep(service.clock.now()) == 0
    rules = [r.rule for r in await service.entries(c.customer_id)]
    assert "adoption_bonus" not in rules
