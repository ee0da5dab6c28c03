"""Notifications fixtures: the real app (lifespan running) on the session's broker and
PostgreSQL, a schema and topics of the test's own, a ManualClock, and event builders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.auth import issue_token
from fourfold.clock import ManualClock
from fourfold.events import (
    NUDGES_TOPIC,
    Envelope,
    HealthChanged,
    InvoicePaid,
    InvoicePaymentFailed,
    SubscriptionCreated,
    parse_event,
)
from fourfold.notifications.app import create_app
from fourfold.notifications.consumer import INPUT_TOPICS
from fourfold.notifications.scheduler import Evaluator
from fourfold.notifications.settings import NotificationsSettings
from fourfold.testing.kafka import produce_raw, read_topic
from fourfold.testing.wait import wait_until

SECRET = "notifications-test-secret-0123456789abcdef"
START = datetime(2026, 6, 1, 12, tzinfo=UTC)


def make_settings(
    bootstrap: str, database_url: str, schema: str, unique: str, **extra: Any
) -> NotificationsSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "database_url": database_url,
        "database_schema": schema,
        "auth_secret": SecretStr(SECRET),
        "topic_partitions": 3,
        "notifications_topic_prefix": f"t{unique}.",
        "notifications_consumer_group": f"notifications-{unique}",
        "notifications_consumer_session_timeout_ms": 6000,
        "notifications_evaluate_interval_s": 3600,
        "notifications_delivery_poll_s": 0.05,
        "log_json": False,
    }
    return NotificationsSettings(**(values | extra))


def _money(amount: str = "100.00") -> dict[str, str]:
    return {"amount": str(Decimal(amount)), "currency": "EUR"}


class Make:
    """Builders of valid input events; every event gets a fresh id unless one is given."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock

    def _envelope(
        self, type_: str, data: dict[str, Any], at: datetime, event_id: str | None = None
    ) -> Any:
        raw = {
            "specversion": "1.0",
            "id": event_id or uuid.uuid4().hex,
            "source": "test/notifications",
            "type": type_,
            "time": at.isoformat(),
            "data": data,
        }
        return parse_event(json.dumps(raw, default=str).encode())

    def created(
        self, customer: str, partner: str, *, start: date | None = None, seats: int = 10
    ) -> SubscriptionCreated:
        start = start or self.clock.now().date()
        data = {
            "subscription_id": f"sub-{customer}",
            "customer_id": customer,
            "partner_id": partner,
            "plan": "pro",
            "seats": seats,
            "mrr": _money(),
            "start_date": start.isoformat(),
            "term_end": (start + timedelta(days=365)).isoformat(),
        }
        at = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
        return self._envelope("subscription.created", data, at)  # type: ignore[no-any-return]

    def health(
        self,
        customer: str,
        partner: str,
        *,
        score: int = 70,
        band: str = "green",
        seats: int = 10,
        in_use: int = 1,
        milestones: tuple[str, ...] = (),
        start: date | None = None,
        at: datetime | None = None,
        event_id: str | None = None,
    ) -> HealthChanged:
        at = at or self.clock.now()
        start = start or (at - timedelta(days=30)).date()
        data = {
            "customer_id": customer,
            "partner_id": partner,
            "score": score,
            "previous_score": None,
            "band": band,
            "previous_band": None,
            "step": "implement",
            "previous_step": None,
            "scorecard_version": "test",
            "scored_at": at.isoformat(),
            "signals": {
                "partner_id": partner,
                "seats": seats,
                "seats_in_use": in_use,
                "utilization": in_use / seats,
                "milestones": {m: at.isoformat() for m in milestones},
                "subscription_start": start.isoformat(),
                "term_end": (start + timedelta(days=365)).isoformat(),
            },
        }
        return self._envelope("health.changed", data, at, event_id)  # type: ignore[no-any-return]

    def payment_failed(
        self, customer: str, invoice: str, at: datetime | None = None
    ) -> InvoicePaymentFailed:
        data = {
            "invoice_id": invoice,
            "subscription_id": f"sub-{customer}",
            "customer_id": customer,
            "amount": _money(),
            "attempt": 1,
        }
        return self._envelope("invoice.payment_failed", data, at or self.clock.now())  # type: ignore[no-any-return]

    def partner_changed(self, customer: str, previous: str, partner: str) -> Envelope:
        at = self.clock.now()
        data = {
            "customer_id": customer,
            "previous_partner_id": previous,
            "partner_id": partner,
            "effective_at": at.isoformat(),
        }
        return self._envelope("customer.partner_changed", data, at)  # type: ignore[no-any-return]

    def paid(self, customer: str, invoice: str, at: datetime | None = None) -> InvoicePaid:
        at = at or self.clock.now()
        data = {
            "invoice_id": invoice,
            "subscription_id": f"sub-{customer}",
            "customer_id": customer,
            "amount": _money(),
            "paid_at": at.isoformat(),
        }
        return self._envelope("invoice.paid", data, at)  # type: ignore[no-any-return]


class Service:
    """The running app, its HTTP client, clock and database, and helpers to drive them."""

    def __init__(
        self, app: Any, client: httpx.AsyncClient, settings: NotificationsSettings
    ) -> None:
        self.app, self.client, self.settings = app, client, settings
        self.clock: ManualClock = app.state.clock

    @property
    def engine(self) -> AsyncEngine:
        engine: AsyncEngine = self.app.state.engine
        return engine

    @property
    def evaluator(self) -> Evaluator:
        evaluator: Evaluator = self.app.state.evaluator
        return evaluator

    async def tick(self) -> int:
        """One scheduled evaluation pass at the clock's now."""
        return await self.evaluator.evaluate_all(self.clock.now())

    def topic(self, name: str) -> str:
        return self.settings.notifications_topic_prefix + name

    async def produce(self, events: list[Envelope]) -> None:
        """Produce events to their (prefixed) topics, keyed by customer, in list order."""
        by_topic: dict[str, list[tuple[bytes | None, bytes]]] = defaultdict(list)
        for event in events:
            by_topic[self.topic(event.topic)].append((event.key.encode(), event.to_json_bytes()))
        for topic, records in by_topic.items():
            await produce_raw(self.settings.kafka_bootstrap_servers or "", topic, records)

    def auth(self, role: str = "admin", partner: str | None = None) -> dict[str, str]:
        token = issue_token(
            secret=SECRET,
            issuer="fourfold",
            role=role,  # type: ignore[arg-type]
            subject=f"test-{role}",
            partner_id=partner,
            now=self.clock.now(),
        )
        return {"Authorization": f"Bearer {token}"}

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as connection:
            return await connection.scalar(text(sql), params)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as connection:
            return list(await connection.execute(text(sql), params))

    async def processed(self) -> int:
        return int(await self.scalar("SELECT count(*) FROM inbox") or 0)

    async def settled(self, count: int, timeout_s: float = 30) -> None:
        """All `count` events applied and every emitted event published."""

        async def applied() -> bool:
            return await self.processed() >= count

        await wait_until(applied, timeout_s, f"{count} events applied")
        await wait_until(self.outbox_drained, what="outbox drained")

    async def outbox_drained(self) -> bool:
        return not await self.scalar("SELECT count(*) FROM outbox")

    async def nudges(self, customer: str) -> list[Any]:
        return await self.rows(
            "SELECT * FROM nudges WHERE customer_id = :c ORDER BY raised_at, nudge_id", c=customer
        )

    async def nudge_events(self, customer: str, expect: int) -> list[Envelope]:
        records = await read_topic(
            self.settings.kafka_bootstrap_servers or "",
            NUDGES_TOPIC,
            expect=expect,
            keys={customer.encode()},
        )
        return [parse_event(r.value) for r in records if r.value is not None]

    @property
    def input_topics(self) -> list[str]:
        return [self.topic(t) for t in INPUT_TOPICS]


Spawn = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def spawn() -> Spawn:
    """Start the service in a process of its own: `spawn(settings, log, **extra)`."""
    return spawn_service


def spawn_service(
    settings: NotificationsSettings, log: Path, **extra: object
) -> subprocess.Popen[bytes]:
    """The service in a process of its own (uvicorn, a real clock) on the test's settings;
    `extra` are FOURFOLD_NOTIFICATIONS_* values (e.g. DELIVERY_LEASE_S=2)."""
    env = {
        **os.environ,
        "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "FOURFOLD_DATABASE_URL": settings.database_url or "",
        "FOURFOLD_DATABASE_SCHEMA": settings.database_schema,
        "FOURFOLD_AUTH_SECRET": settings.auth_secret.get_secret_value(),
        "FOURFOLD_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "FOURFOLD_NOTIFICATIONS_TOPIC_PREFIX": settings.notifications_topic_prefix,
        "FOURFOLD_NOTIFICATIONS_CONSUMER_GROUP": settings.notifications_consumer_group,
        "FOURFOLD_NOTIFICATIONS_CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "FOURFOLD_NOTIFICATIONS_EVALUATE_INTERVAL_S": "3600",
        "FOURFOLD_LOG_JSON": "false",
        **{f"FOURFOLD_NOTIFICATIONS_{k}": str(v) for k, v in extra.items()},
    }
    command = [sys.executable, "-m", "uvicorn", "fourfold.notifications.app:create_app"]
    with log.open("ab") as output:
        return subprocess.Popen(
            [*command, "--factory", "--port", "0"], stdout=output, stderr=subprocess.STDOUT, env=env
        )


@pytest.fixture
def settings(
    kafka_bootstrap: str, database_url: str, fresh_schema: str, unique: str
) -> NotificationsSettings:
    return make_settings(kafka_bootstrap, database_url, fresh_schema, unique)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


class running_service:  # noqa: N801 - reads as a context manager function
    def __init__(self, settings: NotificationsSettings, clock: ManualClock) -> None:
        self.app = create_app(settings, clock=clock)
        self.settings = settings
        self._lifespan = self.app.router.lifespan_context(self.app)
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://notifications"
        )

    async def __aenter__(self) -> Service:
        await self._lifespan.__aenter__()
        return Service(self.app, self._client, self.settings)

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)


@pytest.fixture
def start(settings: NotificationsSettings, clock: ManualClock) -> Callable[[], running_service]:
    return lambda: running_service(settings, clock)


@pytest.fixture
async def service(start: Callable[[], running_service]) -> AsyncIterator[Service]:
    async with start() as running:
        yield running


@pytest.fixture
def make(clock: ManualClock) -> Make:
    return Make(clock)
