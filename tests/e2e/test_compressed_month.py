"""A compressed month of the simulated vendor through all four services on the real broker
and PostgreSQL, the test moving one ManualClock that every service and the simulator share.

The simulation's first `HISTORY_DAYS` go in at once (as `make dev` sends its history), then
the test walks the clock through `MONTH_DAYS` more, a day at a time, posting each day's
events through ingest's public API as the clock reaches them. Afterwards each service must
show what the events it was sent imply, every expectation derived from the simulator's
archetype assignments and the events it generated:

- ingest accepted every event;
- health-scoring: customers whose events show a complete onboarding (every core milestone
  and at least half the seats in use) and no invoice left unpaid are green and past
  Implement; the stallers (whose
  events never show first value) are still in Implement and not green;
- incentives: every early churner (a `subscription.cancelled` was sent) has a ledger that
  accrued something and nets to zero: the clawback reversed it all;
- notifications: every staller has an open `implement_stalled` nudge.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from fourfold.auth import issue_token
from fourfold.clock import ManualClock
from fourfold.health.app import create_app as create_health_app
from fourfold.health.settings import HealthSettings
from fourfold.incentives.app import create_app as create_incentives_app
from fourfold.incentives.settings import IncentivesSettings
from fourfold.ingest.app import create_app as create_ingest_app
from fourfold.ingest.settings import IngestSettings
from fourfold.notifications.app import create_app as create_notifications_app
from fourfold.notifications.settings import NotificationsSettings
from fourfold.simulator.archetypes import Archetype
from fourfold.simulator.sink import IngestPoster
from fourfold.simulator.timeline import Timeline
from fourfold.simulator.vendor import build_vendor
from fourfold.simulator.wire import midnight
from fourfold.testing.fixtures import drop_schemas

from .conftest import SECRET, running

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(300)]

RUN_START = date(2026, 3, 2)
HISTORY_DAYS = 50
MONTH_DAYS = 30
CORE_MILESTONES = {"kickoff", "configured", "users_trained", "first_value"}
"""The onboarding the simulator plans for a customer that onboards (its full `_onboarding`)."""
SERVICES = ("ingest", "health", "incentives", "notifications")


@dataclass
class Month:
    clock: ManualClock
    clients: dict[str, httpx.AsyncClient]

    def admin(self) -> dict[str, str]:
        token = issue_token(
            secret=SECRET, issuer="fourfold", role="admin", subject="e2e", now=self.clock.now()
        )
        return {"Authorization": f"Bearer {token}"}

    def ingest_token(self) -> str:
        return issue_token(
            secret=SECRET, issuer="fourfold", role="ingest", subject="sim", now=self.clock.now()
        )

    async def get(self, service: str, path: str, **params: Any) -> Any:
        response = await self.clients[service].get(path, params=params, headers=self.admin())
        assert response.status_code == 200, (path, response.text)
        return response.json()

    async def get_found(self, service: str, path: str) -> Any:
        """`get`, but None for a 404: what a service has not consumed yet while it catches up."""
        response = await self.clients[service].get(path, headers=self.admin())
        if response.status_code == 404:
            return None
        assert response.status_code == 200, (path, response.text)
        return response.json()


@pytest.fixture
async def month(kafka_bootstrap: str, database_url: str, unique: str) -> AsyncIterator[Month]:
    """The four services side by side, each in its schema and consumer group of its own, on
    the real topics, all on one ManualClock."""
    tag = uuid.uuid4().hex[:8]
    schemas = {name: f"e2e_month_{name}_{tag}" for name in SERVICES}
    clock = ManualClock(midnight(RUN_START))
    shared: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "database_url": database_url,
        "auth_secret": SecretStr(SECRET),
        "topic_partitions": 3,
        "log_json": False,
    }
    apps = {
        "ingest": create_ingest_app(
            IngestSettings(database_schema=schemas["ingest"], publish_timeout_s=5.0, **shared),
            clock=clock,
        ),
        "health": create_health_app(
            HealthSettings(
                database_schema=schemas["health"],
                health_consumer_group=f"health-month-{unique}",
                health_consumer_session_timeout_ms=6000,
                health_recompute_interval_s=0.5,
                **shared,
            ),
            clock=clock,
        ),
        "incentives": create_incentives_app(
            IncentivesSettings(
                database_schema=schemas["incentives"],
                incentives_consumer_group=f"incentives-month-{unique}",
                incentives_consumer_session_timeout_ms=6000,
                **shared,
            ),
            clock=clock,
        ),
        "notifications": create_notifications_app(
            NotificationsSettings(
                database_schema=schemas["notifications"],
                notifications_consumer_group=f"notifications-month-{unique}",
                notifications_consumer_session_timeout_ms=6000,
                notifications_evaluate_interval_s=0.5,
                **shared,
            ),
            clock=clock,
        ),
    }
    try:
        async with contextlib.AsyncExitStack() as stack:
            clients = {
                name: await stack.enter_async_context(running(app, name))
                for name, app in apps.items()
            }
            yield Month(clock, clients)
    finally:
        await drop_schemas(database_url, *schemas.values())


def _timeline(unique: str) -> Timeline:
    vendor = build_vendor(
        seed=5, partners=6, customers=40, signup_days=5, prefix=f"m{unique[:10]}-"
    )
    return Timeline(vendor, start=RUN_START)


@dataclass(frozen=True)
class Sent:
    """What the simulator sent, per customer: the events' types and facts the test needs."""

    events: int
    partner: dict[str, str]
    milestones: dict[str, set[str]]
    seats: dict[str, int]
    most_seats_used: dict[str, int]
    cancelled: set[str]
    unpaid: set[str]
    """Customers with an invoice that failed and was not paid by the end."""


def _sent(timeline: Timeline, days: int) -> Sent:
    partner: dict[str, str] = {}
    milestones: dict[str, set[str]] = defaultdict(set)
    seats: dict[str, int] = {}
    used: dict[str, int] = defaultdict(int)
    cancelled: set[str] = set()
    failed: dict[str, str] = {}
    count = 0
    for planned in timeline.events(days):
        count += 1
        kind, data = planned.event["type"], planned.event["data"]
        customer = data.get("customer_id")
        if kind == "subscription.created":
            partner[customer] = data["partner_id"]
            seats[customer] = data["seats"]
        elif kind in ("subscription.expanded", "subscription.contracted", "subscription.renewed"):
            seats[customer] = data["seats"]
        elif kind == "subscription.cancelled":
            cancelled.add(customer)
        elif kind == "milestone.completed":
            milestones[customer].add(data["milestone"])
        elif kind == "usage.reported" and data["metric"] == "seats_used":
            used[customer] = max(used[customer], data["value"])
        elif kind == "invoice.payment_failed":
            failed[data["invoice_id"]] = customer
        elif kind == "invoice.paid":
            failed.pop(data["invoice_id"], None)
    unpaid = set(failed.values())
    return Sent(count, partner, milestones, seats, used, cancelled, unpaid)


async def _post_month(month: Month, timeline: Timeline) -> int:
    """History at once, then a day at a time as the clock reaches its end; events accepted."""
    poster = IngestPoster(month.clients["ingest"], token=month.ingest_token(), batch_size=500)
    month.clock.set(midnight(RUN_START + timedelta(days=HISTORY_DAYS)))
    await poster.send([p.event for p in timeline.events(HISTORY_DAYS)])
    for n in range(HISTORY_DAYS, HISTORY_DAYS + MONTH_DAYS):
        month.clock.set(midnight(RUN_START + timedelta(days=n + 1)))
        await poster.send([p.event for p in timeline.day(n)])
    assert poster.delivery.problems == []
    return poster.delivery.accepted


async def _settled(
    check: Callable[[], Awaitable[list[str]]], *, timeout_s: float, what: str
) -> None:
    """Poll `check` (the problems left) until none is left; fail listing them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    problems: list[str] = []
    while loop.time() < deadline:
        problems = await check()
        if not problems:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what}, still after {timeout_s} s: {problems[:10]}")


async def test_a_compressed_month_leaves_every_service_consistent_with_the_events_sent(
    month: Month, unique: str
) -> None:
    timeline = _timeline(unique)
    days = HISTORY_DAYS + MONTH_DAYS
    sent = _sent(timeline, days)
    archetype = {c.customer_id: c.archetype for c in timeline.vendor.customers}
    onboarded = {
        c
        for c, done in sent.milestones.items()
        if done >= CORE_MILESTONES
        and 2 * sent.most_seats_used[c] >= sent.seats[c]
        and c not in sent.unpaid  # a late payer is marked down until it pays
    }
    stallers = {c for c, a in archetype.items() if a is Archetype.STALLS_IN_IMPLEMENT}
    churners = {c for c in sent.cancelled if archetype[c] is Archetype.CHURNS_EARLY}
    # the run must hold each case the assertions are about
    assert onboarded
    assert stallers
    assert churners
    assert not stallers & {c for c, m in sent.milestones.items() if "first_value" in m}

    assert await _post_month(month, timeline) == sent.events  # ingest took every event

    async def health_problems() -> list[str]:
        problems = []
        for customer in sorted(onboarded | stallers):
            health = await month.get_found("health", f"/v1/customers/{customer}/health")
            if health is None:
                problems.append(f"{customer}: not scored yet")
                continue
            band, step = health["band"], health["step"]
            if health["partner_id"] != sent.partner[customer]:
                problems.append(f"{customer}: partner {health['partner_id']}")
            if customer in onboarded and (band != "green" or step == "implement"):
                problems.append(f"{customer} ({archetype[customer]}) onboarded: {band}, {step}")
            if customer in stallers and (band == "green" or step != "implement"):
                problems.append(f"{customer} stalls: {band}, {step}")
        return problems

    async def ledger_problems() -> list[str]:
        problems = []
        for customer in sorted(churners):
            page = await month.get(
                "incentives",
                f"/v1/incentives/partners/{sent.partner[customer]}/entries",
                customer_id=customer,
                limit=500,
            )
            amounts = [Decimal(e["amount"]) for e in page["items"]]
            if not any(a > 0 for a in amounts) or sum(amounts, Decimal(0)) != 0:
                problems.append(f"{customer}: entries {amounts}")
        return problems

    async def nudge_problems() -> list[str]:
        problems = []
        for customer in sorted(stallers):
            feed = await month.get(
                "notifications",
                "/v1/nudges",
                partner_id=sent.partner[customer],
                customer_id=customer,
                status="open",
                rule="implement_stalled",
            )
            if not feed["items"]:
                problems.append(f"{customer}: no open implement_stalled nudge")
        return problems

    await _settled(health_problems, timeout_s=120, what="health does not match the archetypes")
    await _settled(ledger_problems, timeout_s=60, what="early churners' entries do not net to 0")
    await _settled(nudge_problems, timeout_s=60, what="stallers without a stalled nudge")
