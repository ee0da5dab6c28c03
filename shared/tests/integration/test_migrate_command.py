"""`fourfold migrate SERVICE` brings a service's schema to head on the named database."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from fourfold.cli import main
from fourfold.db.engine import asyncpg_dsn

pytestmark = pytest.mark.integration


async def tables_in(database_url: str, schema: str) -> set[str]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
    finally:
        await connection.close()
    return {row["table_name"] for row in rows}


@pytest.mark.parametrize(
    ("service", "expected"),
    [("ingest", {"accepted_events"}), ("health-scoring", {"inbox", "outbox"})],
)
def test_migrate_creates_the_service_tables(
    service: str,
    expected: set[str],
    database_url: str,
    fresh_schema: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FOURFOLD_DATABASE_URL", database_url)
    monkeypatch.setenv("FOURFOLD_DATABASE_SCHEMA", fresh_schema)

    assert main(["migrate", service]) == 0
    assert main(["migrate", service]) == 0, "running it again changes nothing"

    tables = asyncio.run(tables_in(database_url, fresh_schema))
    assert expected | {"alembic_version"} <= tables


def test_migrate_refuses_an_unknown_service(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps errors to the terminal's width
    assert main(["migrate", "billing"]) == 2
    assert "'billing' is not one of" in capsys.readouterr().err
