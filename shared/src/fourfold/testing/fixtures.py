"""Pytest plugin (loaded with `-p fourfold.testing.fixtures`): real servers, isolated by name.

The broker and the database start once per test session. Set FOURFOLD_KAFKA_BOOTSTRAP_SERVERS
or FOURFOLD_DATABASE_URL to use servers you run yourself (e.g. the PostgreSQL on
127.0.0.1:5432); otherwise the embedded Tansu and PostgreSQL start under a temporary folder.
Tests isolate themselves by schema and topic names, never by mocks.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from fourfold.db.engine import asyncpg_dsn
from fourfold.infra.broker import EmbeddedBroker
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.settings import FourfoldSettings


@pytest.fixture(scope="session")
def infra_settings() -> FourfoldSettings:
    return FourfoldSettings()


@pytest.fixture(scope="session")
def infra_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("infra")


@pytest.fixture(scope="session")
def kafka_bootstrap(infra_settings: FourfoldSettings, infra_dir: Path) -> Iterator[str]:
    """Bootstrap servers of the session's broker."""
    if infra_settings.kafka_bootstrap_servers:
        yield infra_settings.kafka_bootstrap_servers
        return
    broker = EmbeddedBroker(infra_dir).start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of the test's own, for tests that stop and restart it."""
    broker = EmbeddedBroker(tmp_path).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def database_url(infra_settings: FourfoldSettings, infra_dir: Path) -> Iterator[str]:
    """SQLAlchemy URL of the session's PostgreSQL."""
    if infra_settings.database_url:
        yield infra_settings.database_url
        return
    postgres = EmbeddedPostgres(infra_dir).start()
    try:
        yield postgres.url()
    finally:
        postgres.stop()


@pytest.fixture
async def fresh_schema(database_url: str) -> AsyncIterator[str]:
    """A schema name of the test's own, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    await drop_schemas(database_url, name)


async def drop_schemas(database_url: str, *names: str) -> None:
    """Drop the schemas `names` (and everything in them) if they exist."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for name in names:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await connection.close()


@pytest.fixture
def unique() -> str:
    """A short random token to make topic, group and customer names the test's own."""
    return uuid.uuid4().hex[:10]
