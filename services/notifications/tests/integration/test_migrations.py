"""The written-out migration creates exactly the tables and indexes the models declare."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from fourfold.db.engine import create_engine
from fourfold.db.migrations import upgrade
from fourfold.notifications.app import MIGRATIONS_DIR
from fourfold.notifications.models import metadata

pytestmark = pytest.mark.integration


def drift(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def tables(connection: Connection) -> list[str]:
    return sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})


async def test_migrations_match_the_models(database_url: str, fresh_schema: str) -> None:
    await upgrade(url=database_url, schema=fresh_schema, migrations_dir=MIGRATIONS_DIR)
    await upgrade(url=database_url, schema=fresh_schema, migrations_dir=MIGRATIONS_DIR)  # no-op
    engine = create_engine(database_url, schema=fresh_schema)
    try:
        async with engine.connect() as connection:
            assert (
                await connection.scalar(text("SELECT version_num FROM alembic_version")) == "0003"
            )
            assert await connection.run_sync(drift) == []
            assert await connection.run_sync(tables) == sorted(metadata.tables)
    finally:
        await engine.dispose()
