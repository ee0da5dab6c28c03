"""One customer's whole life through the real broker and PostgreSQL, priced by hand from
the shipped default program (program.default.yaml): new_logo 5% of first-year ARR,
implementation 500 USD within 30 days, upsell 10% of ARR added, renewal 8% × band (green
1.25), adoption 400 USD after 60 green days from first_value, and a cancellation within 90
days of the start that claws back new_logo and implementation and reverses the upsell
inside its 90-day window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from fourfold.events import INCENTIVES_TOPIC, parse_event
from fourfold.incentives.samples import Customer
from fourfold.testing.kafka import read_topic
from fourfold.testing.wait import wait_until

if TYPE_CHECKING:
    from conftest import Service

pytestmark = pytest.mark.integration

DAY0 = datetime(2027, 1, 4, 10, tzinfo=UTC)


def day(n: int) -> datetime:
    return DAY0 + timedelta(days=n)


async def test_a_whole_customer_life_gives_the_entries_computed_by_hand(
    service: Service, unique: str
) -> None:
    c = Customer(f"c-{unique}", f"p-{unique}")
    life = [
        c.created(day(0), "1000.00"),
        c.milestone(day(3), "kickoff"),
        c.milestone(day(6), "configured"),
        c.milestone(day(10), "first_value"),
        c.health(day(12), "green"),
        c.expanded(day(30), "1500.00"),
        c.renewed(day(60)),
        c.cancelled(day(80)),
    ]
    for count, event in enumerate(life, start=1):  # one at a time: the topics interleave
        await service.produce([event])
        await service.wait_processed(count)
    rows = await service.entries(c.customer_id)
    got = [(r.rule, r.kind, str(Decimal(r.amount).quantize(Decimal("0.01")))) for r in rows]
    assert got == [
        ("new_logo", "accrual", "600.00"),  # 12,000 × 5%
        ("implementation_bonus", "accrual", "500.00"),  # first_value on day 10
        ("upsell", "accrual", "600.00"),  # +6,000 ARR × 10%
        ("renewal", "accrual", "1800.00"),  # 18,000 × 8% × 1.25 (green since day 12)
        ("adoption_bonus", "accrual", "400.00"),  # green from day 12 to day 72
        ("clawback", "reversal", "-600.00"),
        ("clawback", "reversal", "-500.00"),
        ("clawback", "reversal", "-600.00"),
    ]
    by_id = {r.entry_id: r for r in rows}
    reversed_rules = sorted(by_id[r.reverses_entry_id].rule for r in rows if r.kind == "reversal")
    assert reversed_rules == ["implementation_bonus", "new_logo", "upsell"]
    assert await service.net(c.partner_id) == Decimal("2200.00")
    adoption = next(r for r in rows if r.rule == "adoption_bonus")
    assert adoption.event_time == day(72)
    renewal = next(r for r in rows if r.rule == "renewal")
    assert renewal.inputs["band"] == "green"
    assert renewal.program_version == "default-2026.1"

    published = await read_topic(
        service.settings.kafka_bootstrap_servers or "",
        INCENTIVES_TOPIC,
        expect=len(rows),
        keys={c.customer_id.encode()},
    )
    announced = [parse_event(r.value) for r in published if r.value is not None]
    assert sorted(e.id for e in announced) == sorted(by_id)
    assert sorted(e.type for e in announced).count("incentive.reversed") == 3


async def test_the_band_at_renewal_is_the_one_in_force_even_when_it_arrives_later(
    service: Service, unique: str
) -> None:
    c = Customer(f"c-{unique}", f"p-{unique}")
    await service.produce([c.created(day(0), "1000.00"), c.health(day(1), "red")])
    await service.wait_processed(2)
    await service.produce([c.renewed(day(200))])
    await service.wait_processed(3)
    first = [r for r in await service.entries(c.customer_id) if r.rule == "renewal"]
    assert [str(r.amount) for r in first] == ["480.0000"]  # 12,000 × 8% × 0.5 (red)
    # scored green the day before the renewal, but published after it was accrued
    late_green = c.health(day(199), "green", previous="red", sent=day(201))
    after_renewal = c.health(day(205), "yellow", previous="green")
    await service.produce([late_green, after_renewal])
    await service.wait_processed(5)
    renewal = [r for r in await service.entries(c.customer_id) if r.rule == "renewal"]
    assert sum(Decimal(r.amount) for r in renewal) == Decimal("1200.00")  # × 1.25 (green)
    assert [r.kind for r in renewal] == ["accrual", "adjustment"]
    assert renewal[1].reverses_entry_id == renewal[0].entry_id
    assert renewal[1].source_event_id == late_green.id


async def test_an_event_id_that_reaches_the_broker_twice_has_one_effect(
    service: Service, unique: str
) -> None:
    """Offsets mode stores no inbox row per event: a copy of an event re-sent under a new
    offset reaches the handler, and must earn nothing again (the events table keeps it once
    by (source, id), the entries once by identity), nor announce anything again."""
    c = Customer(f"c-{unique}", f"p-{unique}")
    life = [
        c.created(day(0), "1000.00"),
        c.milestone(day(10), "first_value"),
        c.health(day(12), "green"),
        c.expanded(day(30), "1500.00"),
    ]
    await service.produce(life)
    await service.wait_processed(len(life))
    once = await service.entries(c.customer_id)
    assert [r.rule for r in once] == ["new_logo", "implementation_bonus", "upsell"]

    await service.produce(life)  # the same ids again, in one batch and one at a time
    for event in life:
        await service.produce([event])
    await service.wait_processed(3 * len(life))

    twice = await service.entries(c.customer_id)
    assert [(r.entry_id, r.amount) for r in twice] == [(r.entry_id, r.amount) for r in once]
    kept = await service.scalar(
        "SELECT count(*) FROM events WHERE customer_id = :c", c=c.customer_id
    )
    assert kept == len(life)
    await wait_until(service.outbox_drained, what="outbox drained")
    published = await read_topic(
        service.settings.kafka_bootstrap_servers or "",
        INCENTIVES_TOPIC,
        expect=len(once) + 1,  # more than there should be: read all that came, briefly
        timeout_s=3,
        keys={c.customer_id.encode()},
    )
    announced = sorted(parse_event(r.value).id for r in published if r.value is not None)
    assert announced == sorted(r.entry_id for r in once)
