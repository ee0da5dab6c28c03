"""A believable stream of vendor events for a handful of partners and customers.

Each customer gets a subscription, then a daily rhythm of usage, onboarding milestones as
they progress, and now and then an expansion, feedback, or a failed payment that it pays a
few days later.

`make dev` first replays `days_of_history` past days (the services' clock set to each day in
turn, see fourfold.dev.clock, so scores and trends have a past), then posts one simulated
day every two seconds, dated now. It logs a warning for anything ingest refuses and a
summary line every few minutes, never a line per request.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson

from fourfold.clock import Clock
from fourfold.dev.clock import DevClock

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
        self.unpaid: dict[str, datetime] = {}
        """Failed invoices and when the customer pays them (a few days later)."""

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
        for invoice_id, pays_at in list(self.unpaid.items()):
            if pays_at <= at:
                del self.unpaid[invoice_id]
                yield _event(
                    BILLING,
                    "invoice.paid",
                    at,
                    {
                        "invoice_id": invoice_id,
                        "subscription_id": f"sub-{self.customer_id}",
                        "customer_id": self.customer_id,
                        "amount": self.money(self.mrr),
                        "paid_at": at.isoformat(),
                    },
                )
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
            invoice_id = f"inv-{uuid.uuid4().hex[:8]}"
            self.unpaid[invoice_id] = at + timedelta(days=self.rng.randint(2, 6))
            yield _event(
                BILLING,
                "invoice.payment_failed",
                at,
                {
                    "invoice_id": invoice_id,
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


class DemoFeed:
    """The demo book and its events, posted to ingest in batches (one per simulated day)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        now: datetime,
        customers: int = 12,
        days_of_history: int = 45,
        seed: int = 4,
    ) -> None:
        rng = random.Random(seed)
        self._http = http
        self.end = now
        self.days_of_history = days_of_history
        start = now - timedelta(days=days_of_history)
        self.book = [
            DemoCustomer(i, rng, start + timedelta(days=rng.randint(0, 10)))
            for i in range(customers)
        ]
        self._created: set[str] = set()
        self.posted = 0
        self.rejected = 0

    def assume_created(self) -> None:
        """The subscriptions exist already (a kept database): post no `created` again."""
        self._created = {c.customer_id for c in self.book}

    async def post_day(self, at: datetime) -> list[DemoCustomer]:
        """Post the day `at` of every customer subscribed by then; return those customers."""
        active = [c for c in self.book if c.start <= at]
        events: list[dict[str, Any]] = []
        for customer in active:
            if customer.customer_id not in self._created:
                self._created.add(customer.customer_id)
                events.append(customer.created())
            events.extend(customer.day(at))
        await self._post(events)
        return active

    async def replay(self, clock: DevClock | None, scored: Scored | None = None) -> None:
        """Post every past day in order. With `clock`, the services' clock is moved to each
        day first and, with `scored`, the next day waits until that day's scores are in: so
        the scores (and their history) are stamped on the day they describe."""
        for day in range(self.days_of_history, 0, -1):
            at = self.end - timedelta(days=day)
            if clock is not None:
                clock.set(at)
            active = await self.post_day(at)
            if scored is not None and active:
                await scored({c.customer_id: c.partner_id for c in active}, at)
        if clock is not None:
            clock.catch_up()

    async def live(
        self, clock: Clock, *, seconds_per_day: float = 2.0, summary_every_s: float = 300.0
    ) -> None:
        """One simulated day every `seconds_per_day`, dated now, forever; a summary line
        every `summary_every_s` (no line per request)."""
        last_summary, posted, rejected = time.monotonic(), self.posted, self.rejected
        while True:
            await asyncio.sleep(seconds_per_day)
            await self.post_day(clock.now())
            if time.monotonic() - last_summary >= summary_every_s:
                log.info(
                    "demo feed: %d events posted (%d rejected) in the last %.0f min",
                    self.posted - posted,
                    self.rejected - rejected,
                    (time.monotonic() - last_summary) / 60,
                )
                last_summary, posted, rejected = time.monotonic(), self.posted, self.rejected

    async def _post(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        response = await self._http.post("/v1/events", content=orjson.dumps(events))
        self.posted += len(events)
        if response.status_code != 202:
            self.rejected += len(events)
            log.warning(
                "demo feed: ingest answered %s: %s", response.status_code, response.text[:300]
            )
            return
        body = response.json()
        if body.get("rejected"):
            self.rejected += int(body["rejected"])
            bad = [r for r in body.get("results", []) if r.get("status") == "rejected"]
            log.warning("demo feed: ingest rejected %d events: %s", len(bad), str(bad[:2])[:300])


Scored = Callable[[dict[str, str], datetime], Awaitable[None]]
"""Waits until health-scoring has scored the given customers (id → partner) at or after."""


def ingest_client(ingest_url: str, token: str) -> httpx.AsyncClient:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/cloudevents-batch+json",
    }
    return httpx.AsyncClient(base_url=ingest_url, headers=headers, timeout=10)


def waiting_for_scores(
    health_url: str, admin_token: str, *, timeout_s: float = 10.0
) -> tuple[httpx.AsyncClient, Scored]:
    """A `Scored` that polls health-scoring's book of each partner (as admin) until every
    given customer's `scored_at` is at or after the instant; past `timeout_s` it warns and
    lets the replay go on."""
    http = httpx.AsyncClient(
        base_url=health_url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=10
    )

    async def scored(customers: dict[str, str], at: datetime) -> None:
        deadline = time.monotonic() + timeout_s
        waiting = dict(customers)
        while waiting:
            for partner in sorted(set(waiting.values())):
                response = await http.get(f"/v1/partners/{partner}/customers?limit=200")
                if response.status_code != 200:
                    continue
                for item in response.json()["items"]:
                    if datetime.fromisoformat(item["scored_at"]) >= at:
                        waiting.pop(item["customer_id"], None)
            if not waiting:
                return
            if time.monotonic() > deadline:
                log.warning("demo feed: %s not scored for %s; going on", sorted(waiting), at)
                return
            await asyncio.sleep(0.05)

    return http, scored
