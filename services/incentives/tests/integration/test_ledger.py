"""The ledger in PostgreSQL: append-only by the database, one entry per identity, caps
that hold when two transactions accrue for the same partner at the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.incentives.app import MIGRATIONS_DIR
from fourfold.incentives.domain.program import ProgramSet, parse_program
from fourfold.incentives.ledger import accrue_events
from fourfold.incentives.samples import Customer
from fourfold.testing.wait import wait_until

pytestmark = pytest.mark.integration

AT = datetime(2027, 2, 1, 9, tzinfo=UTC)
CAPPED = """\
program_id: capped
version: "c1"
effective_from: 2027-01-01
rules:
  new_logo: {rate: "0.10"}
caps:
  per_period: {USD: "1000.00"}
"""
PROGRAMS = ProgramSet([parse_program(CAPPED)])


@pytest.fixture
async def engine(database_url: str, fresh_schema: str) -> AsyncIterator[AsyncEngine]:
    await upgrade(url=database_url, schema=fresh_schema, migrations_dir=MIGRATIONS_DIR)
    engine = create_engine(database_url, schema=fresh_schema)
    yield engine
    await engine.dispose()


async def _accrue(session: AsyncSession, customer: str, mrr: str) -> None:
    created = Customer(customer, "p-1").created(AT, mrr)
    await accrue_events(session, [created], programs=PROGRAMS, now=AT)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE entries SET amount = 0",
        "DELETE FROM entries",
        "TRUNCATE entries",
        "UPDATE entry_transitions SET status = 'paid'",
        "DELETE FROM statement_transitions",
    ],
)
async def test_the_database_refuses_to_change_the_ledger(
    engine: AsyncEngine, statement: str
) -> None:
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await _accrue(session, "c-1", "100.00")
        await session.execute(
            text(
                "INSERT INTO entry_transitions (entry_id, partner_id, status, actor, at) "
                "SELECT entry_id, partner_id, 'approved', 'test', now() FROM entries"
            )
        )
        await session.execute(
            text(
                "INSERT INTO statement_transitions (partner_id, period, status, actor, at) "
                "VALUES ('p-1', '2027-02', 'approved', 'test', now())"
            )
        )
    with pytest.raises(DBAPIError, match="append-only"):
        async with sessions() as session, session.begin():
            await session.execute(text(statement))
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT sum(amount) FROM entries")) == Decimal("120")


async def test_the_same_event_accrues_once(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    created = Customer("c-1", "p-1").created(AT, "100.00")
    for _ in range(3):
        async with sessions() as session, session.begin():
            await accrue_events(session, [created], programs=PROGRAMS, now=AT)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM entries")) == 1


async def test_two_transactions_accruing_for_one_partner_never_overshoot_its_cap(
    engine: AsyncEngine,
) -> None:
    """A holds the partner-period lock with 800 accrued and uncommitted; B, for another
    customer of the same partner, must wait for it and then see only 200 left of 1,000."""
    sessions = session_factory(engine)
    first = sessions()
    await first.begin()
    await _accrue(first, "c-a", "666.67")  # 8,000.04 ARR × 10% = 800.00
    second_done = asyncio.Event()

    async def second() -> None:
        async with sessions() as session, session.begin():
            await _accrue(session, "c-b", "666.67")
        second_done.set()

    task = asyncio.create_task(second())

    async def waiting_for_a_lock() -> bool:
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND wait_event = 'advisory' AND datname = current_database()"
                )
            )
        return bool(waiting)

    await wait_until(waiting_for_a_lock, 10, "the second transaction waits for the cap lock")
    assert not second_done.is_set()
    await first.commit()
    await first.close()
    await asyncio.wait_for(task, 10)
    async with engine.connect() as connection:
        rows = list(
            await connection.execute(text("SELECT customer_id, amount FROM entries ORDER BY seq"))
        )
    assert [(r.customer_id, r.amount) for r in rows] == [
        ("c-a", Decimal("800.0000")),
        ("c-b", Decimal("200.0000")),
    ]


async def test_caps_count_per_period(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        for i, month in enumerate((0, 0, 31)):
            created = Customer(f"c-{i}", "p-1").created(AT + timedelta(days=month), "666.67")
            await accrue_events(session, [created], programs=PROGRAMS, now=AT)
    async with engine.connect() as connection:
        amounts = list(await connection.scalars(text("SELECT amount FROM entries ORDER BY seq")))
    assert amounts == [Decimal("800"), Decimal("200"), Decimal("800")]
