"""The repository's batch statements against PostgreSQL: the unnest upsert and history insert
store exactly what SQLAlchemy's per-row INSERT stored, and the `= ANY(:ids)` reads find what
they should."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fourfold.clock import ManualClock
from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.events import parse_event
from fourfold.health import repository
from fourfold.health.app import MIGRATIONS_DIR
from fourfold.health.consumer import build_handler
from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import Band, default_scorecard
from fourfold.health.domain.signals import (
    CustomerSignals,
    Milestone,
    Money,
    PaymentState,
    SubscriptionStatus,
)
from fourfold.health.domain.trend import trend
from fourfold.health.evaluation import TREND_LOOKBACK, Evaluation, Previous, as_read, evaluate
from fourfold.health.models import customers, score_history
from fourfold.health.state import CustomerState
from fourfold.kafka.consumer import Batch

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SECOND = timedelta(seconds=1)
SCORECARD = default_scorecard()


def states() -> list[CustomerState]:
    start = NOW - timedelta(days=50)
    rich = CustomerSignals(
        customer_id="r-1",
        partner_id="p1",
        plan="pro",
        status=SubscriptionStatus.ACTIVE,
        seats_bought=10,
        mrr=Money(Decimal("99.55"), "EUR"),
        subscription_start=start,
        term_end=start + timedelta(days=365),
        subscription_at=start,
        seats_in_use=7,
        seats_in_use_at=NOW - timedelta(days=1),
        active_users=tuple((NOW.date() - timedelta(days=d), 6) for d in range(40, 0, -1)),
        features_used=frozenset({"a", "b"}),
        features_available=8,
        milestones={Milestone.KICKOFF: start + timedelta(days=2)},
        payment=PaymentState(1, True, NOW - timedelta(days=3)),
    )
    return [
        CustomerState(rich, partner_at=start, failed_invoices={"i9": NOW - timedelta(days=3)}),
        CustomerState.new("r-2"),  # no partner, no ARR: NULL columns
        CustomerState.new("r-3 'quoted\" ünïcode"),
    ]


def evaluations(override: ManualOverride | None = None, now: datetime = NOW) -> list[Evaluation]:
    return [
        evaluate(
            state, previous=None, scorecard=SCORECARD, now=now, override=override, cause="event"
        )
        for state in states()
    ]


@pytest.fixture
async def sessions(
    database_url: str, fresh_schema: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade(url=database_url, schema=fresh_schema, migrations_dir=MIGRATIONS_DIR)
    engine: AsyncEngine = create_engine(database_url, schema=fresh_schema)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def stored(session: AsyncSession) -> tuple[list[Any], list[Any]]:
    """Every column of every row as PostgreSQL prints it (JSONB as its text, NULL vs JSON null
    told apart), history without its generated id."""
    current = await session.execute(
        text("SELECT (to_jsonb(c))::text FROM customers c ORDER BY customer_id")
    )
    history = await session.execute(
        text(
            "SELECT (to_jsonb(h) - 'id')::text, override IS NULL, jsonb_typeof(override) "
            "FROM score_history h ORDER BY customer_id, at, cause"
        )
    )
    return [tuple(r) for r in current], [tuple(r) for r in history]


async def write_per_row(session: AsyncSession, found: Sequence[Evaluation]) -> None:
    """What `save_customers` and `add_history` used to run: SQLAlchemy's executemany (of
    the documents as dicts, which it encodes itself)."""
    statement = insert(customers)
    replaced = {c.name: statement.excluded[c.name] for c in customers.c if c.name != "customer_id"}
    await session.execute(
        statement.on_conflict_do_update(index_elements=["customer_id"], set_=replaced),
        [as_read(e.row) for e in found],
    )
    await session.execute(insert(score_history), [e.history for e in found if e.history])


async def write_batched(session: AsyncSession, found: Sequence[Evaluation]) -> None:
    await repository.save_customers(session, [e.row for e in found])
    await repository.add_history(session, [e.history for e in found if e.history])


async def test_batched_writes_store_what_per_row_inserts_stored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    override = ManualOverride(
        reason="call 'x'", set_at=NOW, expires_at=NOW + timedelta(days=3), band=Band.RED
    )
    plain, overridden = evaluations(), evaluations(override, NOW + timedelta(days=2))
    snapshots = []
    for write in (write_per_row, write_batched):
        async with sessions() as session, session.begin():
            await session.execute(delete(customers))
            await session.execute(delete(score_history))
            await write(session, plain)
            await write(session, overridden)  # the second write replaces the current rows
            snapshots.append(await stored(session))
    assert snapshots[0] == snapshots[1]
    current, history = snapshots[1]
    assert len(current) == 3
    assert len(history) == 6
    # a point without an override keeps the JSON null SQLAlchemy's JSONB type stored
    assert {(is_null, kind) for _, is_null, kind in history} == {(False, "null"), (False, "object")}


async def test_empty_batches_run_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await repository.save_customers(session, [])
        await repository.add_history(session, [])
        assert await stored(session) == ([], [])


async def test_reads_by_id_find_the_given_customers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    found = evaluations()
    ids = [e.row["customer_id"] for e in found]
    override = ManualOverride(reason="r", set_at=NOW, expires_at=NOW + timedelta(days=1), score=40)
    async with sessions() as session, session.begin():
        await write_batched(session, found)
        await repository.put_override(session, ids[1], override)

    async with sessions() as session, session.begin():
        locked = await repository.lock_customers(session, [ids[2], ids[0], "unknown", ids[0]])
        assert list(locked) == sorted([ids[0], ids[2]])
        for evaluation in (found[0], found[2]):
            state, previous = locked[evaluation.row["customer_id"]]
            assert state == next(
                s for s in states() if s.customer_id == evaluation.row["customer_id"]
            )
            assert previous == Previous(
                score=evaluation.result.score,
                computed_score=evaluation.result.computed_score,
                band=evaluation.row["band"],
                step=evaluation.row["step"],
                history_at=NOW,
                version=evaluation.row["version"],
                partner_id=evaluation.row["partner_id"],
            )
        assert await repository.lock_customers(session, []) == {}

        assert await repository.load_overrides(session, ids) == {ids[1]: override}
        assert await repository.load_overrides(session, [ids[0]]) == {}

        week_later = NOW + timedelta(days=7)
        trend = await repository.load_trend_history(session, ids[:2], week_later, NOW)
        assert set(trend) == set(ids[:2])
        assert trend[ids[0]] == [(NOW, found[0].result.computed_score)], "only the 7-day point"
        assert await repository.load_trend_history(session, ids, week_later, NOW + SECOND) == {}
        assert await repository.load_trend_history(session, ids, NOW, NOW) == {}, "none 7d ago"


async def test_the_trend_points_give_the_trend_the_whole_history_gives(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The repository loads two points per customer, not the whole month: the trend must
    come out the same as from every point of the lookback, at any `as_of`."""
    points = {
        customer: [(NOW - timedelta(hours=h), (h * 7 + len(customer)) % 101) for h in hours]
        for customer, hours in (("t-1", range(0, 24 * 40, 13)), ("t-2", (3, 200, 725, 900)))
    }
    rows = [
        {
            "customer_id": customer,
            "at": at,
            "score": value,
            "computed_score": value,
            "band": "yellow",
            "step": "improve",
            "scorecard_version": "v",
            "cause": "event",
            "override": None,
        }
        for customer, series in points.items()
        for at, value in series
    ]
    async with sessions() as session, session.begin():
        await repository.add_history(session, rows)
    for as_of in (NOW, NOW - timedelta(days=3, hours=5), NOW + timedelta(days=6, minutes=1)):
        since = as_of - TREND_LOOKBACK
        async with sessions() as session:
            loaded = await repository.load_trend_history(session, list(points), as_of, since)
        for customer, series in points.items():
            whole = [(at, value) for at, value in series if at >= since]
            assert trend(loaded.get(customer, []), 50, as_of) == trend(whole, 50, as_of)
            assert len(loaded.get(customer, [])) <= 2


async def test_two_writers_of_a_new_customers_first_events_both_land(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Two consumer batches (say, two replicas right after a rebalance) fold different events
    of a customer nobody has stored yet: the second waits for the first and folds onto it."""
    customer = "new-1"
    created = parse_event(
        {
            "id": "e-created",
            "source": "test",
            "type": "subscription.created",
            "time": (NOW - timedelta(days=40)).isoformat(),
            "data": {
                "subscription_id": "s1",
                "customer_id": customer,
                "partner_id": "p1",
                "plan": "pro",
                "seats": 10,
                "mrr": {"amount": "100.00", "currency": "EUR"},
                "start_date": (NOW - timedelta(days=40)).date().isoformat(),
                "term_end": (NOW + timedelta(days=325)).date().isoformat(),
                "features_available": 10,
            },
        }
    )
    kickoff = parse_event(
        {
            "id": "e-kickoff",
            "source": "test",
            "type": "milestone.completed",
            "time": (NOW - timedelta(days=30)).isoformat(),
            "data": {
                "customer_id": customer,
                "partner_id": "p1",
                "milestone": "kickoff",
                "completed_at": (NOW - timedelta(days=30)).isoformat(),
            },
        }
    )
    handle = build_handler(SCORECARD)
    clock = ManualClock(NOW)

    async def second_writer() -> None:
        async with sessions() as session, session.begin():
            await handle(Batch(session=session, events=[kickoff], clock=clock))

    async with sessions() as session, session.begin():
        await handle(Batch(session=session, events=[created], clock=clock))
        other = asyncio.create_task(second_writer())
        await asyncio.sleep(0.5)
        assert not other.done(), "the second writer waits for the first one's commit"
    await asyncio.wait_for(other, timeout=10)

    async with sessions() as session:
        found = await repository.lock_customers(session, [customer])
    state, previous = found[customer]
    assert state.signals.subscription_start is not None, "the first writer's event is kept"
    assert Milestone.KICKOFF in state.signals.milestones, "the second writer's event is kept"
    assert (state.partner_id, state.signals.seats_bought) == ("p1", 10)
    assert previous.version >= 1
