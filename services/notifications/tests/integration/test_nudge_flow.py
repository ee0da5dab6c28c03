"""Nudges raised and resolved end to end: real broker and PostgreSQL, the clock advanced by
the test, time-based rules on the scheduler, duplicates with one effect."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from fourfold.events import NudgeRaised, NudgeRaisedData, NudgeResolved

if TYPE_CHECKING:
    from conftest import Make, Service

pytestmark = pytest.mark.integration


async def test_an_idle_customer_stalls_after_21_days_and_resolves_when_activation_rises(
    service: Service, make: Make, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    await service.produce([make.created(customer, partner)])
    await service.settled(1)
    assert await service.nudges(customer) == []

    service.clock.advance(timedelta(days=21) - timedelta(hours=12, seconds=1))  # a second short
    # the scheduler walked every snapshot when it started; since, it reads the due ones only
    assert await service.tick() == 0
    assert await service.nudges(customer) == []

    service.clock.advance(timedelta(seconds=1))  # 21 days since the start date's midnight
    assert await service.tick() == 1  # due now, though it sent no event
    [nudge] = await service.nudges(customer)
    assert (nudge.rule, nudge.status, nudge.partner_id) == ("implement_stalled", "open", partner)
    start = (service.clock.now() - timedelta(days=21)).date()
    assert nudge.facts["started_on"] == start.isoformat()  # a date: no fact counts days
    assert nudge.facts["missing_milestones"] == ["users_trained", "first_value"]
    assert nudge.title == f"Onboarding of {customer} has stalled after 21 days"

    await service.tick()  # evaluating again changes nothing
    assert len(await service.nudges(customer)) == 1
    service.clock.advance(timedelta(days=1))  # not due again: time alone changes nothing now
    assert await service.tick() == 0
    [same] = await service.nudges(customer)
    assert (same.nudge_id, same.facts, same.updated_at) == (
        nudge.nudge_id,
        nudge.facts,
        nudge.updated_at,
    )
    shown = await service.client.get(f"/v1/nudges/{nudge.nudge_id}", headers=service.auth())
    assert shown.json()["title"] == f"Onboarding of {customer} has stalled after 22 days"
    [listed] = (
        await service.client.get(
            "/v1/nudges", params={"customer_id": customer}, headers=service.auth("partner", partner)
        )
    ).json()["items"]
    assert listed["title"] == shown.json()["title"]  # the feed counts the days as it is read

    risen = make.health(
        customer,
        partner,
        in_use=5,
        milestones=("users_trained", "first_value"),
        start=nudge.raised_at.date() - timedelta(days=21),
    )
    await service.produce([risen])
    await service.settled(2)
    [after] = await service.nudges(customer)
    assert (after.status, after.resolution) == ("resolved", "condition_cleared")

    events = await service.nudge_events(customer, expect=2)
    assert [type(e) for e in events] == [NudgeRaised, NudgeResolved]
    assert {e.data.nudge_id for e in events} == {nudge.nudge_id}  # type: ignore[attr-defined]
    said = events[0].data
    assert isinstance(said, NudgeRaisedData)  # why it fired and what to do, as the feed says
    assert (said.rule, said.severity) == (nudge.rule, nudge.severity)
    assert (said.facts, said.next_step) == (nudge.facts, nudge.next_step)
    assert said.facts is not None
    assert said.facts["missing_milestones"] == ["users_trained", "first_value"]


async def test_new_facts_bring_a_title_and_next_step_rendered_from_them(
    service: Service, make: Make, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    start, raised = await stalled(service, make, customer, partner)
    assert "only 0% of seats are active" in raised.next_step

    service.clock.advance(timedelta(days=11))  # 41 days since the start, 2 of 10 seats in use
    await service.produce([make.health(customer, partner, in_use=2, start=start)])
    await service.settled(2)
    shown = await service.client.get(
        f"/v1/nudges/{raised.nudge_id}", headers=service.auth("partner", partner)
    )
    assert shown.status_code == 200, shown.text
    nudge = shown.json()
    assert nudge["facts"]["activation"] == 0.2
    assert "only 20% of seats are active" in nudge["next_step"]
    assert nudge["title"] == f"Onboarding of {customer} has stalled after 41 days"


async def test_a_nudge_stored_with_facts_that_counted_days_still_reads_and_moves_to_dates(
    service: Service, make: Make, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    start, nudge = await stalled(service, make, customer, partner)
    old = {  # the shape written before facts held dates
        "days_since_start": 28,
        "activation": 0.0,
        "activation_below": 0.3,
        "missing_milestones": ["users_trained", "first_value"],
    }
    async with service.engine.begin() as connection:
        await connection.execute(
            text("UPDATE nudges SET facts = CAST(:f AS jsonb), title = 'old' WHERE nudge_id = :n"),
            {"f": json.dumps(old), "n": nudge.nudge_id},
        )
    shown = await service.client.get(f"/v1/nudges/{nudge.nudge_id}", headers=service.auth())
    assert shown.status_code == 200, shown.text
    assert (shown.json()["facts"], shown.json()["title"]) == (
        old,
        f"Onboarding of {customer} has stalled after 28 days",  # its own count, rendered
    )

    await service.evaluator.evaluate_all(service.clock.now(), everything=True)  # a restart's walk
    [moved] = await service.nudges(customer)
    assert moved.facts["started_on"] == start.isoformat()
    assert "days_since_start" not in moved.facts
    assert moved.title == f"Onboarding of {customer} has stalled after 30 days"


async def test_a_duplicated_health_changed_never_makes_a_second_nudge_or_delivery(
    service: Service, make: Make, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    await add_webhook(service, partner)
    dropped = make.health(customer, partner, score=40, band="red", at=service.clock.now())
    before = make.health(customer, partner, score=80, at=service.clock.now() - timedelta(days=2))
    await service.produce([before, dropped, dropped])  # the same event twice
    copy = make.health(customer, partner, score=40, band="red", at=service.clock.now())
    await service.produce([copy])  # and the same content under another id
    await service.settled(3)
    await service.tick()
    rules = sorted(n.rule for n in await service.nudges(customer))
    assert rules == ["health_drop", "implement_stalled"]
    deliveries = await service.scalar(
        "SELECT count(*) FROM deliveries WHERE partner_id = :p", p=partner
    )
    assert deliveries == 2  # one per nudge, the one channel


async def test_the_database_refuses_a_second_open_nudge(
    service: Service, make: Make, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    await service.produce([make.payment_failed(customer, "in_1"), make.created(customer, partner)])
    await service.settled(2)
    [nudge] = [n for n in await service.nudges(customer) if n.rule == "payment_failed"]
    copy = {**nudge._mapping, "nudge_id": "ndg_copy", "cleared_at": nudge.raised_at}
    columns = ", ".join(copy)
    values = ", ".join(f":{k}" for k in copy)
    with pytest.raises(IntegrityError, match="nudges_one_open"):
        async with service.engine.begin() as connection:
            await connection.execute(
                text(f"INSERT INTO nudges ({columns}) VALUES ({values})"),
                {**copy, "facts": '{"invoices": []}'},
            )


async def test_payment_failed_clears_on_paid_and_comes_back_on_the_next_failure(
    service: Service, make: Make, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    await service.produce([make.created(customer, partner), make.payment_failed(customer, "in_1")])
    await service.settled(2)
    service.clock.advance(timedelta(seconds=1))
    await service.produce([make.paid(customer, "in_1")])
    await service.settled(3)
    service.clock.advance(timedelta(seconds=1))
    await service.produce([make.payment_failed(customer, "in_2")])
    await service.settled(4)
    paid = [n for n in await service.nudges(customer) if n.rule == "payment_failed"]
    assert [(n.status, n.facts["invoices"]) for n in paid] == [
        ("resolved", ["in_1"]),
        ("open", ["in_2"]),
    ]


async def test_a_customer_moving_to_another_partner_moves_its_nudges(
    service: Service, make: Make, unique: str
) -> None:
    customer, old, new = f"c-{unique}", f"po-{unique}", f"pn-{unique}"
    await service.produce([make.created(customer, old), make.payment_failed(customer, "in_1")])
    await service.settled(2)
    service.clock.advance(timedelta(seconds=1))
    await service.produce([make.partner_changed(customer, old, new)])
    await service.settled(3)
    nudges = [n for n in await service.nudges(customer) if n.rule == "payment_failed"]
    assert [(n.partner_id, n.status, n.resolution) for n in nudges] == [
        (old, "resolved", "expired"),
        (new, "open", None),
    ]
    hidden = await service.client.get(
        f"/v1/nudges/{nudges[1].nudge_id}", headers=service.auth("partner", old)
    )
    assert hidden.status_code == 404


async def stalled(service: Service, make: Make, customer: str, partner: str) -> tuple[date, Any]:
    """A customer 30 days into its subscription with no seat in use: its stalled nudge."""
    start = service.clock.now().date() - timedelta(days=30)
    await service.produce([make.health(customer, partner, in_use=0, start=start)])
    await service.settled(1)
    [nudge] = await service.nudges(customer)
    return start, nudge


async def add_webhook(service: Service, partner: str, url: str = "http://127.0.0.1:9/hook") -> str:
    """A webhook channel for `partner`, through the admin route."""
    response = await service.client.post(
        f"/v1/admin/notifications/partners/{partner}/channels",
        json={"kind": "webhook", "target": url},
        headers=service.auth(),
    )
    assert response.status_code == 201, response.text
    channel_id: str = response.json()["channel_id"]
    return channel_id
