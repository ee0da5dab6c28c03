"""The hand-written migration creates exactly the tables the models declare."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.events import parse_event
from fourfold.health import repository
from fourfold.health.app import MIGRATIONS_DIR
from fourfold.health.domain.scorecard import default_scorecard
from fourfold.health.evaluation import as_read, evaluate
from fourfold.health.folding import fold_events
from fourfold.health.models import customers, metadata
from fourfold.health.state import CustomerState
from fourfold.testing import samples

pytestmark = pytest.mark.integration


def drift(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection)
    return list(compare_metadata(context, metadata))


def tables(connection: Connection) -> list[str]:
    return sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})


async def test_migrations_match_the_models(database_url: str, fresh_schema: str) -> None:
    await upgrade(url=database_url, schema=fresh_schema, migrations_dir=MIGRATIONS_DIR)
    await upgrade(url=database_url, schema=fresh_schema, migrations_dir=MIGRATIONS_DIR)  # no-op
    engine = create_engine(database_url, schema=fresh_schema)
    try:
        async with engine.connect() as connection:
            assert (
                await connection.scalar(text("SELECT version_num FROM alembic_version")) == "0004"
            )
            assert await connection.run_sync(drift) == []
            assert await connection.run_sync(tables) == sorted(metadata.tables)
    finally:
        await engine.dispose()


async def test_customers_stored_before_0002_load_unchanged_after_it(
    database_url: str, fresh_schema: str
) -> None:
    """0002 turns the documents from jsonb into json on a filled table: what was stored
    reads back as the same state and explanation."""
    await upgrade(
        url=database_url, schema=fresh_schema, migrations_dir=MIGRATIONS_DIR, revision="0001"
    )
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    event = parse_event(samples.subscription_created("e-1", "c-1"))
    state = fold_events(CustomerState.new("c-1"), [event])
    evaluation = evaluate(
        state, previous=None, scorecard=default_scorecard(), now=now, cause="event"
    )
    engine = create_engine(database_url, schema=fresh_schema)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            await repository.save_customers(session, [evaluation.row])
        await upgrade(url=database_url, schema=fresh_schema, migrations_dir=MIGRATIONS_DIR)
        async with sessions() as session, session.begin():
            loaded, _ = (await repository.lock_customers(session, ["c-1"]))["c-1"]
            explanation = await session.scalar(select(customers.c.explanation))
        assert loaded == state
        assert explanation == as_read(evaluation.row)["explanation"]
    finally:
        await engine.dispose()
