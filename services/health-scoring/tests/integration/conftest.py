"""Health-scoring fixtures: the real app (lifespan running) on the session's broker and
PostgreSQL, a schema and topics of the test's own, a ManualClock, and event builders."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr
from sqlalchemy import text

from fourfold.clock import ManualClock
from fourfold.events import (
    HEALTH_TOPIC,
    Envelope,
    FeedbackSubmitted,
    FeedbackSubmittedData,
    HealthChanged,
    InvoicePaymentFailed,
    InvoicePaymentFailedData,
    MilestoneCompleted,
    MilestoneCompletedData,
    Money,
    SubscriptionCreated,
    SubscriptionCreatedData,
    UsageReported,
    UsageReportedData,
    parse_event,
)
from fourfold.health.app import create_app
from fourfold.health.consumer import INPUT_TOPICS
from fourfold.health.folding import fold_events
from fourfold.health.settings import HealthSettings
from fourfold.health.state import CustomerState, state_to_json
from fourfold.testing.kafka import committed_offsets, read_topic
from fourfold.testing.running import RunningApp, running_app
from fourfold.testing.wait import wait_until

SECRET = "health-test-secret-health-test-secret-0123"
START = datetime(2026, 6, 1, 12, tzinfo=UTC)


def make_settings(
    bootstrap: str, database_url: str, schema: str, unique: str, **extra: Any
) -> HealthSettings:
    return HealthSettings(
        kafka_bootstrap_servers=bootstrap,
        database_url=database_url,
        database_schema=schema,
        auth_secret=SecretStr(SECRET),
        topic_partitions=3,
        health_topic_prefix=f"t{unique}.",
        health_consumer_group=f"health-{unique}",
        health_consumer_session_timeout_ms=6000,
        health_recompute_interval_s=3600,
        log_json=False,
        **extra,
    )


class Make:
    """Builders of valid input events; every event gets a fresh id."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock

    def _envelope(self, kind: type[Envelope], type_: str, data: Any, at: datetime) -> Any:
        return kind.model_validate(
            {
                "id": uuid.uuid4().hex,
                "source": "test/health",
                "type": type_,
                "time": at,
                "data": data,
            }
        )

    def created(
        self,
        customer: str,
        partner: str,
        *,
        seats: int = 10,
        mrr: str = "100.00",
        start: date | None = None,
        features: int = 10,
    ) -> SubscriptionCreated:
        start = start or (self.clock.now() - timedelta(days=40)).date()
        data = SubscriptionCreatedData(
            subscription_id=f"sub-{customer}",
            customer_id=customer,
            partner_id=partner,
            plan="pro",
            seats=seats,
            mrr=Money(amount=Decimal(mrr), currency="EUR"),
            start_date=start,
            term_end=start + timedelta(days=365),
            features_available=features,
        )
        at = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
        return self._envelope(SubscriptionCreated, "subscription.created", data, at)  # type: ignore[no-any-return]

    def usage(
        self,
        customer: str,
        metric: str,
        value: float,
        day: datetime,
        *,
        sent: datetime | None = None,
    ) -> UsageReported:
        data = UsageReportedData(
            customer_id=customer,
            metric=metric,
            value=value,
            period_start=day,
            period_end=day + timedelta(hours=1),
        )
        return self._envelope(UsageReported, "usage.reported", data, sent or day)  # type: ignore[no-any-return]

    def daily_users(self, customer: str, users: int, days: range) -> list[UsageReported]:
        """`users` active users on each of the given days before now (1 = yesterday)."""
        now = self.clock.now()
        return [self.usage(customer, "active_users", users, now - timedelta(days=d)) for d in days]

    def milestone(self, customer: str, partner: str, name: str, at: datetime) -> MilestoneCompleted:
        data = MilestoneCompletedData(
            customer_id=customer, partner_id=partner, milestone=name, completed_at=at
        )
        return self._envelope(MilestoneCompleted, "milestone.completed", data, at)  # type: ignore[no-any-return]

    def nps(self, customer: str, score: int, at: datetime) -> FeedbackSubmitted:
        data = FeedbackSubmittedData(customer_id=customer, kind="nps", score=score, submitted_at=at)
        return self._envelope(FeedbackSubmitted, "feedback.submitted", data, at)  # type: ignore[no-any-return]

    def payment_failed(self, customer: str, invoice: str, at: datetime) -> InvoicePaymentFailed:
        data = InvoicePaymentFailedData(
            invoice_id=invoice,
            subscription_id=f"sub-{customer}",
            customer_id=customer,
            amount=Money(amount=Decimal("100"), currency="EUR"),
            attempt=1,
        )
        return self._envelope(InvoicePaymentFailed, "invoice.payment_failed", data, at)  # type: ignore[no-any-return]

    def healthy(self, customer: str, partner: str) -> list[Envelope]:
        """A customer 40 days in, onboarded, using 8 of 10 seats daily: Improve, green."""
        now = self.clock.now()
        events: list[Envelope] = [self.created(customer, partner)]
        events += self.daily_users(customer, 8, range(1, 36))
        events.append(self.usage(customer, "seats_used", 8, now - timedelta(days=1)))
        events += [
            self.usage(customer, f"feature:f{i}", 1, now - timedelta(days=2)) for i in range(6)
        ]
        events += [
            self.milestone(customer, partner, m, now - timedelta(days=30 - i))
            for i, m in enumerate(["kickoff", "configured", "users_trained", "first_value"])
        ]
        return events


class Service(RunningApp[HealthSettings]):
    """The running app, its HTTP client, clock and database, and helpers to drive them."""

    secret = SECRET

    @property
    def topic_prefix(self) -> str:
        return self.settings.health_topic_prefix

    async def processed(self) -> int:
        """Records the consumer group is done with (applied or dead-lettered, then committed
        to the broker), summed over the input partitions: the consumer runs in offsets mode,
        so there are no inbox rows to count."""
        return await self.committed()

    async def stored_offsets(self) -> int:
        """The next offsets the consumer's transactions stored, summed over the partitions."""
        return await stored_offsets(self.engine)

    async def wait_processed(self, count: int, timeout_s: float = 30) -> None:
        await wait_until(lambda: self._at_least(count), timeout_s, f"{count} events applied")

    async def _at_least(self, count: int) -> bool:
        return await self.processed() >= count

    async def outbox_drained(self) -> bool:
        return not await self.scalar("SELECT count(*) FROM outbox")

    async def settled(self, count: int) -> None:
        """All `count` events applied and every emitted event published."""
        await self.wait_processed(count)
        await wait_until(self.outbox_drained, what="outbox drained")

    async def committed(self) -> int:
        """Offsets the consumer group committed, summed over the input topics' partitions."""
        bootstrap, group = self.settings.kafka_bootstrap_servers or "", self.group
        total = 0
        for topic in self.input_topics:
            total += sum((await committed_offsets(bootstrap, group, topic)).values())
        return total

    async def wait_committed(self, count: int, timeout_s: float = 30) -> None:
        async def done() -> bool:
            return await self.committed() >= count

        await wait_until(done, timeout_s, f"{count} offsets committed")

    async def rewind(self) -> None:
        """Start the group over (call it while stopped): offset 0 committed on every input
        partition and the consumer's stored offsets deleted, so everything is handled again."""
        await rewind(self.settings.kafka_bootstrap_servers or "", self.group, self.input_topics)
        async with self.engine.begin() as connection:
            await connection.execute(text("DELETE FROM consumer_offsets"))

    @property
    def group(self) -> str:
        return self.settings.health_consumer_group

    @property
    def input_topics(self) -> list[str]:
        return [self.topic(t) for t in INPUT_TOPICS]

    async def health_events(self, customer: str, expect: int) -> list[HealthChanged]:
        """The `health.changed` records for `customer` on the topic (waits for `expect`)."""
        records = await read_topic(
            self.settings.kafka_bootstrap_servers or "",
            HEALTH_TOPIC,
            expect=expect,
            keys={customer.encode()},
        )
        events = [parse_event(r.value) for r in records if r.value is not None]
        assert all(isinstance(e, HealthChanged) for e in events)
        return events  # type: ignore[return-value]


async def rewind(bootstrap: str, group: str, topics: list[str]) -> None:
    """Join `group` and commit offset 0 on every partition it owns: the next member replays
    everything (the embedded broker refuses commits from a member that did not join)."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while not consumer.assignment() and asyncio.get_running_loop().time() < deadline:
            await consumer.getmany(timeout_ms=200)
        assert consumer.assignment(), "rewind: no partitions assigned"
        await consumer.commit({tp: 0 for tp in consumer.assignment()})
    finally:
        await consumer.stop()


@pytest.fixture
def health_settings(
    kafka_bootstrap: str, database_url: str, fresh_schema: str, unique: str
) -> HealthSettings:
    return make_settings(kafka_bootstrap, database_url, fresh_schema, unique)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def start(health_settings: HealthSettings, clock: ManualClock) -> Callable[[], running_service]:
    """Start (another) instance of the app on the test's settings and clock."""
    return lambda: running_service(health_settings, clock)


async def stored_offsets(engine: Any) -> int:
    """The consumer's stored next offsets summed over its partitions: on a test's own topics,
    the records its transactions applied or dead-lettered."""
    async with engine.connect() as connection:
        total = await connection.scalar(text("SELECT sum(next_offset) FROM consumer_offsets"))
    return int(total or 0)


async def check_one_effect_per_event(
    engine: Any, bootstrap: str, events: list[Envelope], customers: list[str]
) -> None:
    """Every event folded into its customer's signals (a lost one would show in them), the
    stored offsets cover each record once and no inbox row was written (offsets mode), and
    every version of every customer is published on the topic, each id with exactly one
    content (a doubled rescore would publish a version twice or with two contents)."""
    by_customer: dict[str, list[Envelope]] = defaultdict(list)
    for event in events:
        by_customer[event.key].append(event)
    async with engine.connect() as connection:
        rows = {
            r.customer_id: r
            for r in await connection.execute(
                text("SELECT customer_id, signals, version FROM customers")
            )
        }
        inbox = await connection.scalar(text("SELECT count(*) FROM inbox"))
    assert inbox == 0
    assert await stored_offsets(engine) == len(events)
    assert set(rows) == set(customers)
    for customer, own in by_customer.items():
        expected = fold_events(CustomerState.new(customer), own)
        assert rows[customer].signals == state_to_json(expected), customer
    total_versions = sum(r.version for r in rows.values())
    records = await read_topic(
        bootstrap, HEALTH_TOPIC, expect=total_versions, keys={c.encode() for c in customers}
    )
    contents: dict[str, set[bytes]] = defaultdict(set)
    for record in records:
        assert record.value is not None
        contents[parse_event(record.value).id].add(record.value)
    assert set(contents) == {
        f"health-{c}-{v}" for c, r in rows.items() for v in range(1, r.version + 1)
    }
    assert all(len(payloads) == 1 for payloads in contents.values())


@pytest.fixture
def one_effect_per_event() -> Callable[..., Any]:
    """`await one_effect_per_event(engine, bootstrap, events, customers)` after a crash test."""
    return check_one_effect_per_event


@pytest.fixture
def start_on() -> Callable[[HealthSettings, ManualClock], running_service]:
    """Start an instance of the app on settings and a clock of the test's choosing."""
    return running_service


@pytest.fixture
async def service(start: Callable[[], running_service]) -> AsyncIterator[Service]:
    """The app with its lifespan running (consumer, relay, scheduler) on a ManualClock."""
    async with start() as running:
        yield running


class running_service(running_app[Service]):  # noqa: N801 - reads as a context manager function
    def __init__(self, settings: HealthSettings, clock: ManualClock) -> None:
        app = create_app(settings, clock=clock)
        super().__init__(app, settings, Service, base_url="http://health")


@pytest.fixture
def make(clock: ManualClock) -> Make:
    return Make(clock)
