"""Delivery on real servers the test runs on loopback: a webhook whose signature verifies
with the official Standard Webhooks library, retries with backoff to a dead letter while
another partner is served, 410, Retry-After, Slack Block Kit and an email over SMTP."""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from fourfold.clock import ManualClock
from fourfold.notifications.domain.config import default_config_text
from fourfold.notifications.receiver import Receiver
from fourfold.notifications.settings import NotificationsSettings
from fourfold.testing.wait import wait_until

if TYPE_CHECKING:
    from conftest import Make, Service

pytestmark = pytest.mark.integration

RETRY = "    delays_s: [0, 5, 30, 300, 1800, 7200, 21600]"


@pytest.fixture
def clock() -> ManualClock:
    """Near the real time: the official library checks webhook-timestamp against it."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    text = default_config_text()
    assert RETRY in text
    path = tmp_path / "rules.yaml"
    path.write_text(text.replace(RETRY, "    delays_s: [0, 5, 30]"))
    return path


@pytest.fixture
def settings(
    settings: NotificationsSettings, rules_file: Path, smtp: Controller
) -> NotificationsSettings:
    return settings.model_copy(
        update={
            "notifications_rules_path": rules_file,
            "notifications_smtp_host": "127.0.0.1",
            "notifications_smtp_port": smtp.port,
        }
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[Controller]:
    with socket.socket() as probe:  # aiosmtpd checks its port by connecting: 0 will not do
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


async def channel(service: Service, partner: str, kind: str, target: str) -> dict[str, Any]:
    response = await service.client.post(
        f"/v1/admin/notifications/partners/{partner}/channels",
        json={"kind": kind, "target": target},
        headers=service.auth(),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def raise_payment_nudge(
    service: Service, make: Make, customer: str, partner: str, count: int = 0
) -> None:
    await service.produce([make.created(customer, partner), make.payment_failed(customer, "in_1")])
    await service.settled(count + 2)


async def deliveries(service: Service, partner: str) -> list[Any]:
    return await service.rows(
        "SELECT * FROM deliveries WHERE partner_id = :p ORDER BY created_at, delivery_id", p=partner
    )


async def wait_status(
    service: Service, partner: str, status: str, timeout_s: float = 20
) -> list[Any]:
    async def reached() -> bool:
        rows = await deliveries(service, partner)
        return bool(rows) and all(r.status == status for r in rows)

    await wait_until(reached, timeout_s, f"{partner}'s deliveries {status}")
    return await deliveries(service, partner)


async def test_a_webhook_arrives_signed_and_verifies_with_the_official_library(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    created = await channel(service, partner, "webhook", f"{receiver.url}/ok")
    assert created["secret"].startswith("whsec_")
    await raise_payment_nudge(service, make, customer, partner)
    [row] = await wait_status(service, partner, "delivered")
    [got] = receiver.received
    payload = Webhook(created["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "nudge.raised"
    assert payload["data"]["customer_id"] == customer
    assert payload["data"]["rule"] == "payment_failed"
    assert got.headers["webhook-id"] == row.delivery_id
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(created["secret"]).verify(got.body.replace(b"in_1", b"in_2"), got.headers)

    listed = await service.client.get("/v1/channels", headers=service.auth("partner", partner))
    assert "whsec_" not in listed.text  # never shown again


async def test_a_nudge_back_from_a_snooze_is_delivered_again_once(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    created = await channel(service, partner, "webhook", f"{receiver.url}/ok")
    await raise_payment_nudge(service, make, customer, partner)
    [first] = await wait_status(service, partner, "delivered")
    partner_auth = service.auth("partner", partner)
    until = service.clock.now() + timedelta(minutes=2)  # the library checks the timestamp
    snoozed = await service.client.post(
        f"/v1/nudges/{first.nudge_id}/snooze",
        json={"until": until.isoformat()},
        headers=partner_auth,
    )
    assert snoozed.status_code == 200, snoozed.text
    await service.tick()  # still snoozed: nothing sent
    assert len(await deliveries(service, partner)) == 1

    service.clock.advance(timedelta(minutes=2, seconds=1))  # past the snooze, still unpaid
    await service.tick()
    rows = await wait_status(service, partner, "delivered")
    assert [(r.nudge_id, r.nudge_round) for r in rows] == [(first.nudge_id, 1), (first.nudge_id, 2)]
    assert receiver.unique() == 2
    back = receiver.received[-1]
    assert back.headers["webhook-id"] == rows[1].delivery_id != first.delivery_id
    payload = Webhook(created["secret"]).verify(back.body, back.headers)
    assert (payload["data"]["nudge_id"], payload["data"]["delivery_round"]) == (first.nudge_id, 2)
    detail = (await service.client.get(f"/v1/nudges/{first.nudge_id}", headers=partner_auth)).json()
    assert (detail["status"], len(detail["deliveries"])) == ("open", 2)

    # a second pass and a duplicated input event start no third round
    await service.tick()
    before = await service.processed()
    await service.produce([make.payment_failed(customer, "in_1")])
    await service.settled(before + 1)
    await service.tick()
    assert len(await deliveries(service, partner)) == 2
    assert receiver.unique() == 2


@pytest.mark.parametrize(
    ("action", "reason"),
    [("snooze", "nudge snoozed before delivery"), ("resolve", "nudge resolved before delivery")],
)
async def test_a_snooze_or_resolve_stops_the_retries_of_its_deliveries(
    service: Service, make: Make, receiver: Receiver, unique: str, action: str, reason: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    await channel(service, partner, "webhook", f"{receiver.url}/status/500")
    await raise_payment_nudge(service, make, customer, partner)

    async def retrying() -> bool:
        [row] = await deliveries(service, partner)
        return bool(row.attempts >= 2 and row.status == "pending")

    await wait_until(retrying, 20, "a retry waiting")  # the first retry goes at once, then 5 s
    [row] = await deliveries(service, partner)
    body = {"until": (service.clock.now() + timedelta(hours=1)).isoformat()}
    acted = await service.client.post(
        f"/v1/nudges/{row.nudge_id}/{action}",
        json=body if action == "snooze" else None,
        headers=service.auth("partner", partner),
    )
    assert acted.status_code == 200, acted.text
    [shown] = acted.json()["deliveries"]  # visible in the history, never deleted
    assert (shown["status"], shown["last_error"]) == ("cancelled", reason)
    assert len(shown["attempts"]) == row.attempts

    service.clock.advance(timedelta(seconds=40))  # past every retry delay
    worker = service.app.state.worker
    assert await worker.claim() == []
    # the attempt a worker had in flight during the action failed and came back pending:
    # the next claim cancels it instead of retrying
    async with service.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE deliveries SET status = 'pending', last_error = 'status 500'"
                " WHERE delivery_id = :d"
            ),
            {"d": row.delivery_id},
        )
    assert await worker.claim() == []
    [after] = await deliveries(service, partner)
    assert (after.status, after.attempts, after.last_error) == ("cancelled", row.attempts, reason)
    made = "SELECT count(*) FROM delivery_attempts WHERE delivery_id = :d"
    assert await service.scalar(made, d=row.delivery_id) == row.attempts
    if action == "snooze":  # back from the snooze, still unpaid: a new round is delivered
        service.clock.advance(timedelta(hours=1))
        await service.tick()
        rows = await deliveries(service, partner)
        assert [(r.nudge_round, r.status == "cancelled") for r in rows] == [(1, True), (2, False)]


async def test_a_rotated_secret_signs_with_old_and_new_for_the_overlap(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    created = await channel(service, partner, "webhook", f"{receiver.url}/ok")
    rotated = await service.client.post(
        f"/v1/admin/notifications/channels/{created['channel_id']}/rotate-secret",
        headers=service.auth(),
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert rotated.json()["channel"]["secrets_in_force"] == 2
    await raise_payment_nudge(service, make, customer, partner)
    await wait_status(service, partner, "delivered")
    [got] = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (created["secret"], new):  # a receiver on either secret accepts it
        Webhook(secret).verify(got.body, got.headers)


async def test_a_failing_endpoint_backs_off_to_a_dead_letter_while_another_partner_is_served(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    failing, served = f"pf-{unique}", f"ps-{unique}"
    bad = await channel(service, failing, "webhook", f"{receiver.url}/status/500")
    await channel(service, served, "webhook", f"{receiver.url}/ok")
    await service.produce(
        [make.created(f"cf-{unique}", failing), make.payment_failed(f"cf-{unique}", "in_1")]
    )
    await service.produce(
        [make.created(f"cs-{unique}", served), make.payment_failed(f"cs-{unique}", "in_1")]
    )
    await service.settled(4)
    await wait_status(service, served, "delivered")

    async def attempts(n: int) -> None:
        async def made() -> bool:
            [row] = await deliveries(service, failing)
            return bool(row.attempts >= n and row.status != "sending")

        await wait_until(made, 20, f"{n} attempts")

    await attempts(2)  # the first retry goes at once
    for step in (timedelta(seconds=7), timedelta(seconds=37)):  # past 5 s and 30 s (+20% jitter)
        [row] = await deliveries(service, failing)
        assert row.status == "pending"
        service.clock.advance(step)
        service.app.state.worker.notify()
        await attempts(row.attempts + 1)
    [dead] = await wait_status(service, failing, "dead")
    assert (dead.attempts, dead.last_status_code) == (4, 500)
    history = await service.rows(
        "SELECT started_at FROM delivery_attempts WHERE delivery_id = :d ORDER BY id",
        d=dead.delivery_id,
    )
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in itertools.pairwise(history)]
    assert gaps[1] >= 5 * 0.8
    assert gaps[2] >= 30 * 0.8

    letters = (
        await service.client.get("/v1/admin/notifications/dead-letters", headers=service.auth())
    ).json()["items"]
    assert [d["delivery_id"] for d in letters if d["partner_id"] == failing] == [dead.delivery_id]
    assert len(letters[0]["attempts"]) == 4

    # fixed by hand: point the channel at a working URL and retry, with the same webhook-id
    fixed = await service.client.patch(
        f"/v1/admin/notifications/channels/{bad['channel_id']}",
        json={"target": f"{receiver.url}/ok"},
        headers=service.auth(),
    )
    assert fixed.status_code == 200, fixed.text
    retried = await service.client.post(
        f"/v1/admin/notifications/deliveries/{dead.delivery_id}/retry", headers=service.auth()
    )
    assert retried.status_code == 200, retried.text
    await wait_status(service, failing, "delivered")
    assert receiver.received[-1].headers["webhook-id"] == dead.delivery_id
    again = await service.client.post(
        f"/v1/admin/notifications/deliveries/{dead.delivery_id}/retry", headers=service.auth()
    )
    assert (again.status_code, again.json()["error"]) == (409, "delivery_not_dead")


async def test_410_disables_the_endpoint_and_retry_after_is_honoured(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    gone, busy = f"pg-{unique}", f"pb-{unique}"
    dropped = await channel(service, gone, "webhook", f"{receiver.url}/status/410")
    await channel(service, busy, "webhook", f"{receiver.url}/status/503?retry_after=120")
    await raise_payment_nudge(service, make, f"cg-{unique}", gone)
    await raise_payment_nudge(service, make, f"cb-{unique}", busy, count=2)
    [dead] = await wait_status(service, gone, "dead")
    assert dead.last_status_code == 410
    [row] = await service.rows(
        "SELECT enabled, disabled_reason FROM channels WHERE channel_id = :c",
        c=dropped["channel_id"],
    )
    assert (row.enabled, row.disabled_reason) == (False, "410 Gone from the endpoint")

    async def waited() -> bool:
        [r] = await deliveries(service, busy)
        return bool(r.status == "pending" and r.attempts == 1)

    await wait_until(waited, 20, "the 503 recorded")
    [pending] = await deliveries(service, busy)
    assert pending.next_attempt_at - service.clock.now() >= timedelta(seconds=120)


async def test_slack_gets_block_kit_and_email_arrives_with_partner_customer_and_next_step(
    service: Service, make: Make, receiver: Receiver, smtp: Controller, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    await channel(service, partner, "slack", f"{receiver.url}/slack")
    await channel(service, partner, "email", f"ops-{unique}@partner.example")
    await raise_payment_nudge(service, make, customer, partner)
    await wait_status(service, partner, "delivered")
    [slack] = [r for r in receiver.received if r.path == "/slack"]
    message = json.loads(slack.body)
    assert message["blocks"][0]["type"] == "header"
    assert "in_1" in message["blocks"][1]["text"]["text"]
    [(to, mail)] = smtp.handler.messages
    assert to == [f"ops-{unique}@partner.example"]
    text = mail.get_payload()
    assert f"Partner: {partner}" in text
    assert f"Customer: {customer}" in text
    assert "Next step: 1 invoice(s) unpaid (in_1)" in text


async def test_a_slow_endpoint_holds_only_its_own_slots(
    service: Service, make: Make, receiver: Receiver, unique: str
) -> None:
    slow, quick = f"pw-{unique}", f"pq-{unique}"
    per_endpoint = service.settings.notifications_delivery_per_endpoint
    await channel(service, slow, "webhook", f"{receiver.url}/hold")
    await channel(service, quick, "webhook", f"{receiver.url}/ok")
    stuck = [f"cw{i}-{unique}" for i in range(per_endpoint + 1)]
    await service.produce(
        [make.created(c, slow) for c in stuck] + [make.payment_failed(c, "in_1") for c in stuck]
    )
    await service.settled(2 * len(stuck))

    async def all_slots_held() -> bool:
        return receiver.unique("/hold") == per_endpoint

    await wait_until(all_slots_held, 20, "the slow endpoint's slots all held")
    # while its requests hang, the consumer raises another partner's nudge and it is sent
    await raise_payment_nudge(service, make, f"cq-{unique}", quick, count=2 * len(stuck))
    await wait_status(service, quick, "delivered")
    held = sorted(r.status for r in await deliveries(service, slow))
    assert held == ["pending"] + ["sending"] * per_endpoint  # the bound held
    assert receiver.unique("/hold") == per_endpoint
    receiver.release()
    await wait_status(service, slow, "delivered")
