"""A believable stream of vendor events for a handful of partners and customers.

Each customer gets a subscription, then a daily rhythm of usage, onboarding milestones as
they progress, and now and then an expansion, an add-on, a failed payment or feedback.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson

from fourfold.clock import Clock

log = logging.getLogger(__name__)

PARTNERS = ["northwind-msp", "contoso-reseller", "fabrikam-cloud"]
MILESTONES = ["kickoff", "configured", "users_trained", "first_value", "qbr_held", "success_plan"]
BILLING = "https://billing.demo.fourfold.dev"
PRODUCT = "https://product.demo.fourfold.dev"
PORTAL = "https://portal.demo.fourfold.dev"


def _event(source: str, type_: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": type_,
        "time": at.isoformat(),
        "data": data,
    }


class DemoCustomer:
    def __init__(self, index: int, rng: random.Random, start: datetime) -> None:
        self.customer_id = f"cust-{index:03d}"
        self.partner_id = PARTNERS[index % len(PARTNERS)]
        self.seats = rng.choice([10, 25, 50, 100])
        self.mrr = self.seats * 40
        self.adoption = rng.uniform(0.2, 0.95)  # how far this customer will get
        self.milestones_done = 0
        self.start = start
        self.rng = rng

    def money(self, amount: int) -> dict[str, str]:
        return {"amount": f"{amount}.00", "currency": "EUR"}

    def created(self) -> dict[str, Any]:
        return _event(
            BILLING,
            "subscription.created",
            self.start,
            {
                "subscription_id": f"sub-{self.customer_id}",
                "customer_id": self.customer_id,
                "partner_id": self.partner_id,
                "plan": "business",
                "seats": self.seats,
                "mrr": self.money(self.mrr),
                "start_date": self.start.date().isoformat(),
                "term_end": (self.start + timedelta(days=365)).date().isoformat(),
                "features_available": 12,
            },
        )

    def day(self, at: datetime) -> Iterator[dict[str, Any]]:
        """The events of one simulated day."""
        active = max(0, round(self.seats * self.adoption * self.rng.uniform(0.7, 1.1)))
        yield _event(
            PRODUCT,
            "usage.reported",
            at,
            {
                "customer_id": self.customer_id,
                "metric": "active_users",
                "value": active,
                "period_start": (at - timedelta(days=1)).isoformat(),
                "period_end": at.isoformat(),
            },
        )
        yield _event(
            PRODUCT,
            "usage.reported",
            at,
            {
                "customer_id": self.customer_id,
                "metric": f"feature:{self.rng.choice(['reports', 'sso', 'api', 'alerts'])}",
                "value": self.rng.randint(1, 40),
                "period_start": (at - timedelta(days=1)).isoformat(),
                "period_end": at.isoformat(),
            },
        )
        if self.milestones_done < len(MILESTONES) and self.rng.random() < self.adoption / 3:
            yield _event(
                PORTAL,
                "milestone.completed",
                at,
                {
                    "customer_id": self.customer_id,
                    "partner_id": self.partner_id,
                    "milestone": MILESTONES[self.milestones_done],
                    "completed_at": at.isoformat(),
                },
            )
            self.milestones_done += 1
        roll = self.rng.random()
        if roll < 0.02 and self.adoption > 0.7:
            previous_seats, previous_mrr = self.seats, self.mrr
            self.seats += 10
            self.mrr = self.seats * 40
            yield _event(
                BILLING,
                "subscription.expanded",
                at,
                {
                    "subscription_id": f"sub-{self.customer_id}",
                    "customer_id": self.customer_id,
                    "partner_id": self.partner_id,
                    "previous_plan": "business",
                    "plan": "business",
                    "previous_seats": previous_seats,
                    "seats": self.seats,
                    "previous_mrr": self.money(previous_mrr),
                    "mrr": self.money(self.mrr),
                },
            )
        elif roll < 0.03 and self.adoption < 0.4:
            yield _event(
                BILLING,
                "invoice.payment_failed",
                at,
                {
                    "invoice_id": f"inv-{uuid.uuid4().hex[:8]}",
                    "subscription_id": f"sub-{self.customer_id}",
                    "customer_id": self.customer_id,
                    "amount": self.money(self.mrr),
                    "attempt": 1,
                },
            )
        elif roll < 0.05:
            yield _event(
                PORTAL,
                "feedback.submitted",
                at,
                {
                    "customer_id": self.customer_id,
                    "partner_id": self.partner_id,
                    "kind": "nps",
                    "score": min(10, max(0, round(self.adoption * 10 + self.rng.uniform(-2, 2)))),
                    "submitted_at": at.isoformat(),
                },
            )


async def run_demo_feed(
    *,
    ingest_url: str,
    token: str,
    clock: Clock,
    customers: int = 12,
    days_of_history: int = 45,
    seconds_per_day: float = 2.0,
    seed: int = 4,
) -> None:
    """Post a backlog of history, then one simulated day every `seconds_per_day`, forever."""
    rng = random.Random(seed)
    now = clock.now()
    start = now - timedelta(days=days_of_history)
    book = [
        DemoCustomer(i, rng, start + timedelta(days=rng.randint(0, 10))) for i in range(customers)
    ]
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/cloudevents-batch+json",
    }
    async with httpx.AsyncClient(base_url=ingest_url, headers=headers, timeout=10) as http:
        await _post(http, [c.created() for c in book])
        for day in range(days_of_history, 0, -1):
            at = now - timedelta(days=day)
            await _post(http, [e for c in book if c.start <= at for e in c.day(at)])
        log.info("demo feed: history posted; now one simulated day every %ss", seconds_per_day)
        while True:
            await asyncio.sleep(seconds_per_day)
            await _post(http, [e for c in book for e in c.day(clock.now())])


async def _post(http: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
    if not events:
        return
    response = await http.post("/v1/events", content=orjson.dumps(events))
    if response.status_code != 202:
        log.warning("demo feed: ingest answered %s: %s", response.status_code, response.text[:300])
