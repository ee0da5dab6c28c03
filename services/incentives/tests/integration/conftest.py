"""Incentives fixtures: the real app (lifespan running) on the session's broker and
PostgreSQL, a schema and topics of the test's own, a ManualClock, and helpers to drive it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from fourfold.clock import ManualClock
from fourfold.incentives.app import create_app
from fourfold.incentives.consumer import INPUT_TOPICS
from fourfold.incentives.settings import IncentivesSettings
from fourfold.testing.running import RunningApp, running_app
from fourfold.testing.wait import wait_until

SECRET = "incentives-test-secret-incentives-test-0123"
NOW = datetime(2027, 6, 15, 12, tzinfo=UTC)


def make_settings(
    bootstrap: str, database_url: str, schema: str, unique: str, **extra: Any
) -> IncentivesSettings:
    return IncentivesSettings(
        kafka_bootstrap_servers=bootstrap,
        database_url=database_url,
        database_schema=schema,
        auth_secret=SecretStr(SECRET),
        topic_partitions=3,
        incentives_topic_prefix=f"t{unique}.",
        incentives_consumer_group=f"incentives-{unique}",
        incentives_consumer_session_timeout_ms=6000,
        log_json=False,
        **extra,
    )


class Service(RunningApp[IncentivesSettings]):
    """The running app, its HTTP client, clock and database, and helpers to drive them."""

    secret = SECRET

    @property
    def topic_prefix(self) -> str:
        return self.settings.incentives_topic_prefix

    def subject(self, role: str, partner: str | None) -> str:
        return f"test-{role}-{partner or 'x'}"

    async def processed(self) -> int:
        """Records the consumer's transactions applied: the next offsets they stored, summed
        over the test's own partitions (offsets mode: there are no inbox rows to count)."""
        return int(await self.scalar("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets"))

    async def outbox_drained(self) -> bool:
        """Every staged announcement published (the relay deletes what the broker acked)."""
        return not await self.scalar("SELECT count(*) FROM outbox")

    async def wait_processed(self, count: int, timeout_s: float = 30) -> None:
        async def done() -> bool:
            return await self.processed() >= count

        await wait_until(done, timeout_s, f"{count} events applied")

    async def entries(self, customer: str | None = None) -> list[Any]:
        where = "" if customer is None else "WHERE customer_id = :customer"
        return await self.rows(
            f"SELECT * FROM entries {where} ORDER BY event_time, seq", customer=customer
        )

    async def net(self, partner: str, currency: str = "USD") -> Decimal:
        value = await self.scalar(
            "SELECT coalesce(sum(amount), 0) FROM entries WHERE partner_id = :p AND currency = :c",
            p=partner,
            c=currency,
        )
        return Decimal(value)

    async def wait_entries(self, partner: str, count: int, timeout_s: float = 30) -> None:
        """Wait until `partner` has at least `count` entries."""

        async def done() -> bool:
            found = await self.scalar(
                "SELECT count(*) FROM entries WHERE partner_id = :p", p=partner
            )
            return int(found or 0) >= count

        await wait_until(done, timeout_s, f"{count} entries for {partner}")

    @property
    def input_topics(self) -> list[str]:
        return [self.topic(t) for t in INPUT_TOPICS]


@pytest.fixture
def incentives_settings(
    kafka_bootstrap: str, database_url: str, fresh_schema: str, unique: str
) -> IncentivesSettings:
    return make_settings(kafka_bootstrap, database_url, fresh_schema, unique)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def start(
    incentives_settings: IncentivesSettings, clock: ManualClock
) -> Callable[[], running_service]:
    """Start (another) instance of the app on the test's settings and clock."""
    return lambda: running_service(incentives_settings, clock)


@pytest.fixture
async def service(start: Callable[[], running_service]) -> AsyncIterator[Service]:
    """The app with its lifespan running (consumer, relay) on a ManualClock."""
    async with start() as running:
        yield running


class running_service(running_app[Service]):  # noqa: N801 - reads as a context manager function
    def __init__(self, settings: IncentivesSettings, clock: ManualClock) -> None:
        app = create_app(settings, clock=clock)
        super().__init__(app, settings, Service, base_url="http://incentives")


@pytest.fixture(scope="module")
async def shared_service(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Service]:
    """One app for a whole module (its own schema and topics), for tests that only add data
    under partners of their own."""
    import uuid

    import asyncpg

    from fourfold.db.engine import asyncpg_dsn

    unique = uuid.uuid4().hex[:10]
    schema = f"t_{unique}"
    settings = make_settings(kafka_bootstrap, database_url, schema, unique)
    async with running_service(settings, ManualClock(NOW)) as running:
        yield running
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()
