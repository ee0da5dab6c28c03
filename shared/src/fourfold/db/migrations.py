"""Alembic, driven from code: each service owns one schema and its own migrations folder.

A service's `migrations/env.py` is three lines: it calls `run_env()`. Migrations run at
service start, under an advisory lock so replicas starting together take turns.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from fourfold.db.engine import create_engine


def alembic_config(*, url: str, schema: str, migrations_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["fourfold_schema"] = schema
    return config


async def upgrade(*, url: str, schema: str, migrations_dir: Path, revision: str = "head") -> None:
    """Create the schema if needed and apply migrations up to `revision`."""
    config = alembic_config(url=url, schema=schema, migrations_dir=migrations_dir)
    engine = create_engine(url, schema=schema, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as connection:
            # Two replicas starting together must not migrate at once.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:schema))"), {"schema": schema}
            )
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await connection.run_sync(_upgrade_sync, config, revision)
    finally:
        await engine.dispose()


def _upgrade_sync(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's migrations/env.py (online mode, on the connection handed in)."""
    config = context.config
    schema = config.attributes["fourfold_schema"]
    connection: Connection | None = config.attributes.get("connection")
    if connection is None:
        asyncio.run(
            upgrade(
                url=config.get_main_option("sqlalchemy.url") or "",
                schema=schema,
                migrations_dir=Path(config.get_main_option("script_location") or "."),
            )
        )
        return
    connection.execute(text(f'SET search_path TO "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=True,
    )
    with context.begin_transaction():
        context.run_migrations()
