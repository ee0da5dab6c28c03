"""Two delivery workers claiming at once, as two replicas do: `FOR UPDATE SKIP LOCKED` and
the `sending` lease give every due delivery to exactly one of them."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from fourfold.notifications.delivery.worker import DeliveryWorker
from fourfold.notifications.settings import NotificationsSettings

if TYPE_CHECKING:
    from conftest import Make, Service

pytestmark = pytest.mark.integration

PARTNERS, CUSTOMERS_EACH = 12, 4


@pytest.fixture
def settings(settings: NotificationsSettings) -> NotificationsSettings:
    """No worker of the service's own: the test's two workers are the only claimants."""
    return settings.model_copy(update={"notifications_delivery_workers": False})


async def test_two_workers_claiming_at_once_never_take_the_same_delivery(
    service: Service, make: Make, unique: str
) -> None:
    events = []
    for i in range(PARTNERS):
        partner = f"p{i}-{unique}"
        response = await service.client.post(
            f"/v1/admin/notifications/partners/{partner}/channels",
            json={"kind": "webhook", "target": "http://127.0.0.1:9/unused"},
            headers=service.auth(),
        )
        assert response.status_code == 201, response.text
        for j in range(CUSTOMERS_EACH):
            customer = f"c{j}-{partner}"
            events += [make.created(customer, partner), make.payment_failed(customer, "in_1")]
    before = await service.processed()
    await service.produce(events)
    await service.settled(before + len(events))
    due = {r.delivery_id for r in await service.rows("SELECT delivery_id FROM deliveries")}
    assert len(due) == PARTNERS * CUSTOMERS_EACH

    def worker() -> DeliveryWorker:  # nothing in flight: every claim has all its slots
        return DeliveryWorker(
            sessions=service.app.state.sessions,
            senders={},
            clock=service.clock,
            retry=service.app.state.ruleset.config.delivery.retry,
            concurrency=16,  # each claim takes at most 16, so it takes several rounds
        )

    claimed: Counter[str] = Counter()
    while True:
        rounds = await asyncio.gather(worker().claim(), worker().claim())
        taken = [job.delivery_id for jobs in rounds for job in jobs]
        if not taken:
            break
        claimed.update(taken)
    assert set(claimed) == due
    assert set(claimed.values()) == {1}  # each claimed by exactly one worker, once
