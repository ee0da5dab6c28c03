"""The ledger in PostgreSQL: append-only by the database, one entry per identity, caps
that hold when two transactions accrue for the same partner at the same moment, customer
locks taken with the events, paid periods never written to."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.incentives import repository
from fourfold.incentives.app import MIGRATIONS_DIR
from fourfold.incentives.domain.accrual import accrue
from fourfold.incentives.domain.program import ProgramSet, parse_program
from fourfold.incentives.ledger import accrue_events, append_entries
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
    await wait_until(
        lambda: _waiting_for_an_advisory_lock(engine),
        10,
        "the second transaction waits for the cap lock",
    )
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


async def test_one_identity_is_one_entry_and_a_forged_id_is_refused(engine: AsyncEngine) -> None:
    """The primary key is the one-entry-per-identity constraint (no second unique index):
    the same identity appended twice, in two transactions, is one row; an entry whose id is
    not its identity's uuid5 never reaches the table."""
    sessions = session_factory(engine)
    created = Customer("c-1", "p-1").created(AT, "100.00")
    walk = accrue(
        history=[created],
        fresh={created.id},
        existing=[],
        programs=PROGRAMS,
        cap_used={},
    )
    (entry,) = walk.entries
    for _ in range(2):
        async with sessions() as session, session.begin():
            await append_entries(session, [entry], now=AT)
    forged = dataclasses.replace(entry, entry_id=str(uuid.uuid4()))
    with pytest.raises(ValueError, match="not the id of its identity"):
        async with sessions() as session, session.begin():
            await append_entries(session, [forged], now=AT)
    async with engine.connect() as connection:
        ids = list(await connection.scalars(text("SELECT entry_id FROM entries")))
    assert ids == [entry.entry_id]


async def test_keeping_the_events_takes_their_customers_locks_first(engine: AsyncEngine) -> None:
    """`store_events` locks the batch's customers in the same statement: a second writer for
    one of them (the adoption sweep's `lock`) waits until the first commits, also when
    every event of the batch was kept before (a replay stores nothing)."""
    sessions = session_factory(engine)
    created = Customer("c-1", "p-1").created(AT, "100.00")
    for _replay in range(2):
        first = sessions()
        await first.begin()
        await repository.store_events(first, [created], locks=[repository.customer_lock("c-1")])
        second_done = asyncio.Event()

        async def second(done: asyncio.Event) -> None:
            async with sessions() as session, session.begin():
                await repository.lock(session, [repository.customer_lock("c-1")])
            done.set()

        task = asyncio.create_task(second(second_done))
        await wait_until(
            lambda: _waiting_for_an_advisory_lock(engine), 10, "the second writer waits"
        )
        assert not second_done.is_set()
        await first.commit()
        await first.close()
        await asyncio.wait_for(task, 10)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM events")) == 1


async def _waiting_for_an_advisory_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND wait_event = 'advisory' AND datname = current_database()"
            )
        )
    return bool(waiting)


@pytest.mark.parametrize(
    ("currency", "why"),
    [("USD", "capped: paid periods come with the cap sums"), ("EUR", "no cap: read alone")],
)
async def test_an_entry_earned_in_a_paid_period_goes_to_the_next_open_one(
    engine: AsyncEngine, currency: str, why: str
) -> None:
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO statement_transitions (partner_id, period, status, actor, at) "
                "VALUES ('p-1', '2027-02', 'paid', 'test', now())"
            )
        )
    created = Customer("c-1", "p-1", currency).created(AT, "100.00")
    async with sessions() as session, session.begin():
        await accrue_events(session, [created], programs=PROGRAMS, now=AT)
    async with engine.connect() as connection:
        row = (await connection.execute(text("SELECT period, earned_period FROM entries"))).one()
    assert (row.period, row.earned_period) == ("2027-03", "2027-02"), why


@pytest.mark.parametrize(
    ("currency", "why"),
    [("USD", "capped: locked with the cap"), ("EUR", "no cap: locked before the paid read")],
)
async def test_an_entry_of_a_month_being_paid_waits_for_the_payment_and_goes_to_the_open_month(
    engine: AsyncEngine, currency: str, why: str
) -> None:
    """An admin pays February (its statement lock held, the payment not yet committed) while
    a late event of February accrues: the accrual waits, then sees February paid."""
    sessions = session_factory(engine)
    payment = sessions()
    await payment.begin()
    await repository.lock(payment, [repository.statement_lock("p-1", "2027-02")])
    await payment.execute(
        text(
            "INSERT INTO statement_transitions (partner_id, period, status, actor, at) "
            "VALUES ('p-1', '2027-02', 'paid', 'test', now())"
        )
    )
    late = Customer("c-1", "p-1", currency).created(AT, "100.00")
    accrued = asyncio.Event()

    async def accrue_late() -> None:
        async with sessions() as session, session.begin():
            await accrue_events(session, [late], programs=PROGRAMS, now=AT + timedelta(days=40))
        accrued.set()

    task = asyncio.create_task(accrue_late())
    await wait_until(
        lambda: _waiting_for_an_advisory_lock(engine), 10, f"the accrual waits ({why})"
    )
    assert not accrued.is_set()
    await payment.commit()
    await payment.close()
    await asyncio.wait_for(task, 10)
    async with engine.connect() as connection:
        row = (await connection.execute(text("SELECT period, earned_period FROM entries"))).one()
    assert (row.period, row.earned_period) == ("2027-03", "2027-02"), why


async def test_an_offset_postgres_refuses_is_kept_as_the_same_instant(engine: AsyncEngine) -> None:
    """Pydantic accepts a UTC offset of -17:46; PostgreSQL's timestamptz stops at ±15:59.
    The batch's times travel as JSON text, so they are written as UTC: the event is kept
    and the entry made at the same instant, the event's own text untouched."""
    far = timezone(-timedelta(hours=17, minutes=46))
    created = Customer("c-far", "p-1").created(AT, "100.00")
    created = created.model_copy(update={"time": AT.astimezone(far)})
    async with session_factory(engine)() as session, session.begin():
        written, announced = await accrue_events(session, [created], programs=PROGRAMS, now=AT)
    assert [e.event_time for e in written] == [AT]
    async with session_factory(engine)() as session:
        kept = (await session.execute(text("SELECT time, payload FROM events"))).one()
        (entry_time,) = (await session.execute(text("SELECT event_time FROM entries"))).one()
    assert kept.time == AT
    assert entry_time == AT
    assert kept.payload["time"].endswith("-17:46")
    assert len(announced) == 1
