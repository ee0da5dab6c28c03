"""0002 on a filled schema: event payloads from jsonb to json, the entries' second unique
index dropped; what was kept reads back the same, the timeline views still answer, and a
downgrade restores 0001's shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import alembic_config, upgrade
from fourfold.incentives import repository
from fourfold.incentives.app import MIGRATIONS_DIR
from fourfold.incentives.samples import Customer, certified, tier_changed

pytestmark = pytest.mark.integration

AT = datetime(2027, 2, 1, 9, tzinfo=UTC)


async def _downgrade(database_url: str, schema: str, revision: str) -> None:
    """What `fourfold.db.migrations.upgrade` does, the other way (no runner ships for it)."""
    config = alembic_config(url=database_url, schema=schema, migrations_dir=MIGRATIONS_DIR)
    engine = create_engine(database_url, schema=schema, pool_size=1, max_overflow=0)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def _shape(connection: AsyncConnection) -> tuple[str, bool]:
    payload = await connection.scalar(
        text(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = 'events' AND column_name = 'payload'"
        )
    )
    identity = await connection.scalar(
        text("SELECT to_regclass('entries_identity_idx') IS NOT NULL")
    )
    return str(payload), bool(identity)


async def _views(connection: AsyncConnection) -> dict[str, list[tuple[object, ...]]]:
    """Every view of the schema (the timelines), and what each answers."""
    names = await connection.scalars(
        text(
            "SELECT table_name FROM information_schema.views "
            "WHERE table_schema = current_schema() ORDER BY table_name"
        )
    )
    return {
        name: [
            tuple(r) for r in await connection.execute(text(f"SELECT * FROM {name} ORDER BY 1, 2"))
        ]
        for name in list(names)
    }


async def test_0002_keeps_what_was_stored_and_downgrades(
    database_url: str, fresh_schema: str
) -> None:
    await upgrade(
        url=database_url, schema=fresh_schema, migrations_dir=MIGRATIONS_DIR, revision="0001"
    )
    c = Customer("c-1", "p-1")
    kept = [
        c.created(AT, "100.00"),
        c.milestone(AT, "first_value"),
        c.health(AT, "green"),
        tier_changed("p-1", "gold", AT),
        certified("p-1", "implementation", AT),
    ]
    engine = create_engine(database_url, schema=fresh_schema)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            await repository.store_events(session, kept)
        async with engine.connect() as connection:
            assert await _shape(connection) == ("jsonb", True)
            before = await _views(connection)
            assert len(before) == 5
            assert all(before.values())
        await upgrade(url=database_url, schema=fresh_schema, migrations_dir=MIGRATIONS_DIR)
        async with engine.connect() as connection:
            assert await _shape(connection) == ("json", False)
            assert await _views(connection) == before
        async with sessions() as session, session.begin():
            assert await repository.all_history(session, AT.replace(year=2028)) == kept
        await engine.dispose()
        await _downgrade(database_url, fresh_schema, "0001")
        engine = create_engine(database_url, schema=fresh_schema)
        async with engine.connect() as connection:
            assert await _shape(connection) == ("jsonb", True)
            assert await _views(connection) == before
    finally:
        await engine.dispose()
