"""Throttle and digest against the known failures of popular notification systems: the same
trigger twice in one second is one delivery, and two replicas at the digest hour send one
digest (while two different nudges of one second are two deliveries); a digest is never
merged into itself nor dropped on a retry; digests of different partners are never merged."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fourfold.notifications.domain.config import default_config_text
from fourfold.notifications.receiver import Receiver
from fourfold.notifications.scheduler import Evaluator
from fourfold.notifications.settings import NotificationsSettings
from fourfold.testing.wait import wait_until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from conftest import Make, Service

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings: NotificationsSettings, tmp_path: Path) -> NotificationsSettings:
    text = default_config_text().replace("throttle_per_day: 20", "throttle_per_day: 2")
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return settings.model_copy(update={"notifications_rules_path": path})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


async def webhook(service: Service, partner: str, target: str) -> str:
    response = await service.client.post(
        f"/v1/admin/notifications/partners/{partner}/channels",
        json={"kind": "webhook", "target": target},
        headers=service.auth(),
    )
    assert response.status_code == 201, response.text
    channel_id: str = response.json()["channel_id"]
    return channel_id


async def failures(service: Service, make: Make, partner: str, customers: list[str]) -> None:
    """A payment failure for each customer, all at the clock's same second."""
    before = await service.processed()
    events = [make.created(c, partner) for c in customers]
    events += [make.payment_failed(c, "in_1") for c in customers]
    await service.produce(events)
    await service.settled(before + len(events))


async def routed(service: Service, partner: str) -> dict[str, list[str]]:
    rows = await service.rows(
        "SELECT nudge_id, routing FROM nudges WHERE partner_id = :p", p=partner
    )
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.routing, []).append(row.nudge_id)
    return found


async def digest_deliveries(service: Service, partner: str) -> list[Any]:
    return await service.rows(
        "SELECT * FROM deliveries WHERE partner_id = :p AND kind = 'digest' ORDER BY created_at",
        p=partner,
    )


async def test_the_same_trigger_twice_in_one_second_is_one_nudge_and_one_delivery(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    partner, customer = f"p-{unique}", f"c-{unique}"
    await webhook(service, partner, f"{receiver.url}/ok")
    before = await service.processed()
    events = [
        make.created(customer, partner),
        make.payment_failed(customer, "in_1"),  # the billing platform told it twice,
        make.payment_failed(customer, "in_1"),  # as two events, in the clock's same second
    ]
    await service.produce(events)
    await service.settled(before + len(events))
    rows = await service.rows("SELECT nudge_id FROM deliveries WHERE partner_id = :p", p=partner)
    assert len(rows) == 1

    async def one() -> bool:
        return receiver.unique() == 1

    await wait_until(one, 20, "one webhook received")
    await service.tick()
    assert len(receiver.received) == 1


async def test_two_replicas_at_the_digest_hour_send_one_digest(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    """Two held nudges of the same second and two scheduler replicas running the digest hour
    at once: one digest, one delivery, one webhook (and nothing held is left out)."""
    partner = f"p-{unique}"
    await webhook(service, partner, f"{receiver.url}/ok")
    await failures(service, make, partner, [f"c{i}-{unique}" for i in range(4)])
    held = (await routed(service, partner))["digest"]
    assert len(held) == 2  # the allowance is 2 a day
    replica = Evaluator(
        ruleset=service.app.state.ruleset,
        sessions=service.app.state.sessions,
        outbox=service.app.state.outbox,
        clock=service.clock,
        interval_s=3600,
    )
    service.clock.set(datetime(2026, 6, 2, 8, tzinfo=UTC))  # the next 08:00 UTC
    now = service.clock.now()
    await asyncio.gather(service.evaluator.evaluate_all(now), replica.evaluate_all(now))
    [digest] = await digest_deliveries(service, partner)
    assert sorted(n["nudge_id"] for n in digest.payload["data"]["nudges"]) == sorted(held)

    async def sent() -> bool:
        return bool(receiver.unique() == 3)  # two immediate, one digest

    await wait_until(sent, 20, "the digest received")
    digests = [r for r in receiver.received if r.headers.get("webhook-id") == digest.delivery_id]
    assert len(digests) == 1


async def test_two_triggers_in_the_same_second_are_two_deliveries(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    partner = f"p-{unique}"
    await webhook(service, partner, f"{receiver.url}/ok")
    await failures(service, make, partner, [f"c1-{unique}", f"c2-{unique}"])
    rows = await service.rows("SELECT nudge_id FROM deliveries WHERE partner_id = :p", p=partner)
    assert len({r.nudge_id for r in rows}) == 2

    async def both() -> bool:
        return receiver.unique() == 2

    await wait_until(both, 20, "two webhooks received")


async def test_digests_are_per_partner_frozen_when_sent_and_kept_whole_on_retry(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    a, b = f"pa-{unique}", f"pb-{unique}"
    channel_a = await webhook(service, a, f"{receiver.url}/status/500")
    await webhook(service, b, f"{receiver.url}/ok")
    await failures(service, make, a, [f"a{i}-{unique}" for i in range(4)])
    await failures(service, make, b, [f"b{i}-{unique}" for i in range(3)])
    routes_a, routes_b = await routed(service, a), await routed(service, b)
    assert (len(routes_a["immediate"]), len(routes_a["digest"])) == (2, 2)  # 2 a day, rest held
    assert (len(routes_b["immediate"]), len(routes_b["digest"])) == (2, 1)
    assert await digest_deliveries(service, a) == []  # held until the digest hour

    service.clock.set(datetime(2026, 6, 2, 8, tzinfo=UTC))  # the next 08:00 UTC
    await service.tick()
    [first_a], [only_b] = await digest_deliveries(service, a), await digest_deliveries(service, b)
    ids = lambda row: sorted(n["nudge_id"] for n in row.payload["data"]["nudges"])  # noqa: E731
    assert ids(first_a) == sorted(routes_a["digest"])
    assert ids(only_b) == sorted(routes_b["digest"])  # never merged with A's

    async def attempted() -> bool:
        [row] = await digest_deliveries(service, a)
        return bool(row.attempts >= 2 and row.status == "pending")

    await wait_until(attempted, 20, "A's digest failed twice")

    # after the digest was sent, more of A's nudges: the new day's allowance, then the next digest
    await failures(service, make, a, [f"late{i}-{unique}" for i in range(3)])
    later = await routed(service, a)
    [late_held] = [n for n in later["digest"] if n not in routes_a["digest"]]
    [first_again] = await digest_deliveries(service, a)
    assert ids(first_again) == ids(first_a)  # not merged into itself, nothing added or dropped
    digests = await service.rows(
        "SELECT d.status, array_agg(i.nudge_id) AS items"
        " FROM digests d JOIN digest_items i USING (digest_id) WHERE d.partner_id = :p"
        " GROUP BY d.digest_id, d.status ORDER BY d.window_at",
        p=a,
    )
    assert [(d.status, sorted(d.items)) for d in digests] == [
        ("closed", sorted(routes_a["digest"])),
        ("collecting", [late_held]),
    ]

    fixed = await service.client.patch(
        f"/v1/admin/notifications/channels/{channel_a}",
        json={"target": f"{receiver.url}/ok"},
        headers=service.auth(),
    )
    assert fixed.status_code == 200
    service.clock.advance(timedelta(seconds=10))
    service.app.state.worker.notify()

    async def delivered() -> bool:
        [row] = await digest_deliveries(service, a)
        return bool(row.status == "delivered")

    await wait_until(delivered, 20, "A's digest delivered on retry")
    tries = [r for r in receiver.received if r.headers.get("webhook-id") == first_a.delivery_id]
    assert [r.path for r in tries][-1] == "/ok"
    assert len({r.body for r in tries}) == 1  # every attempt the same content
    sent = tries[-1]
    body = json.loads(sent.body)
    assert sorted(n["nudge_id"] for n in body["data"]["nudges"]) == sorted(routes_a["digest"])
    assert {n["partner_id"] for n in body["data"]["nudges"]} == {a}
    # a held nudge's history is the digest that carried it, attempts and all
    held = routes_a["digest"][0]
    detail = await service.client.get(f"/v1/nudges/{held}", headers=service.auth("partner", a))
    assert detail.status_code == 200, detail.text
    [history] = detail.json()["deliveries"]
    assert (history["kind"], history["delivery_id"], history["status"]) == (
        "digest",
        first_a.delivery_id,
        "delivered",
    )
    assert len(history["attempts"]) == len(tries)


async def test_a_nudge_back_from_a_snooze_over_the_allowance_waits_in_the_digest(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    partner = f"p-{unique}"
    await webhook(service, partner, f"{receiver.url}/ok")
    await failures(service, make, partner, [f"c1-{unique}", f"c2-{unique}"])  # the day's 2
    [nudge, *_] = (await routed(service, partner))["immediate"]
    until = service.clock.now() + timedelta(hours=1)
    snoozed = await service.client.post(
        f"/v1/nudges/{nudge}/snooze",
        json={"until": until.isoformat()},
        headers=service.auth("partner", partner),
    )
    assert snoozed.status_code == 200, snoozed.text
    service.clock.advance(timedelta(hours=1))  # the snooze is over the same UTC day
    await service.tick()
    await service.tick()  # a second pass adds nothing
    assert (await routed(service, partner))["digest"] == [nudge]
    items = await service.rows(
        "SELECT nudge_id, nudge_round FROM digest_items WHERE nudge_id = :n", n=nudge
    )
    assert [(i.nudge_id, i.nudge_round) for i in items] == [(nudge, 2)]
    immediate = "SELECT count(*) FROM deliveries WHERE partner_id = :p AND kind = 'nudge'"
    assert await service.scalar(immediate, p=partner) == 2  # the return did not go past it

    service.clock.set(datetime(2026, 6, 2, 8, tzinfo=UTC))  # the next 08:00 UTC
    await service.tick()
    [digest] = await digest_deliveries(service, partner)
    sent = [(n["nudge_id"], n["delivery_round"]) for n in digest.payload["data"]["nudges"]]
    assert sent == [(nudge, 2)]


async def test_a_held_nudge_that_resolves_before_the_digest_hour_is_not_sent(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    partner = f"p-{unique}"
    await webhook(service, partner, f"{receiver.url}/ok")
    customers = [f"c{i}-{unique}" for i in range(4)]
    await failures(service, make, partner, customers)  # 2 sent now, 2 held for the digest
    held = sorted((await routed(service, partner))["digest"])
    [paid_customer] = [
        r.customer_id
        for r in await service.rows("SELECT * FROM nudges WHERE nudge_id = :n", n=held[0])
    ]
    before = await service.processed()
    await service.produce([make.paid(paid_customer, "in_1")])  # its condition clears
    await service.settled(before + 1)

    service.clock.set(datetime(2026, 6, 2, 8, tzinfo=UTC))
    await service.tick()
    [digest] = await digest_deliveries(service, partner)
    assert [n["nudge_id"] for n in digest.payload["data"]["nudges"]] == [held[1]]

    # a digest left with nothing open is closed without a delivery
    partner_b = f"pb-{unique}"
    await webhook(service, partner_b, f"{receiver.url}/ok")
    others = [f"b{i}-{unique}" for i in range(3)]
    await failures(service, make, partner_b, others)
    [alone] = (await routed(service, partner_b))["digest"]
    resolved = await service.client.post(
        f"/v1/nudges/{alone}/resolve", headers=service.auth("partner", partner_b)
    )
    assert resolved.status_code == 200, resolved.text
    service.clock.set(datetime(2026, 6, 3, 8, tzinfo=UTC))
    await service.tick()
    assert await digest_deliveries(service, partner_b) == []
    closed = "SELECT status FROM digests WHERE partner_id = :p"
    assert await service.scalar(closed, p=partner_b) == "closed"
