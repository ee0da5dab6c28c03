"""Migrate at start only when the database is behind: a restart must not pay for Alembic.

Importing Alembic and building its script directory costs a restart ~0.6-0.8 s of CPU
(docs/benchmarks.md, issue #13, "Recovery"). The head is read from the migration files
themselves (the `revision` no other file names as its `down_revision`) and compared with
the schema's `alembic_version` in one query; anything unexpected (no table, a file the
pattern cannot read, two heads, another revision) runs the real upgrade, which stays the
authority.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_ASSIGNMENT = re.compile(
    r"^(down_revision|revision)\s*(?::[^=]+)?=\s*(?:None|[\"']([^\"']+)[\"'])\s*$", re.MULTILINE
)


def file_head(migrations_dir: Path) -> str | None:
    """The one head revision of `migrations_dir/versions`, or None when it is not plain."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((migrations_dir / "versions").glob("*.py")):
        found = {name: value for name, value in _ASSIGNMENT.findall(path.read_text("utf-8"))}
        if "revision" not in found or not found["revision"]:
            return None
        revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


async def database_revisions(engine: AsyncEngine, schema: str) -> set[str]:
    """The revisions `schema`'s version table holds (empty when it has none yet)."""
    async with engine.connect() as connection:
        present = await connection.scalar(
            text("SELECT to_regclass(:table) IS NOT NULL"),
            {"table": f'"{schema}".alembic_version'},
        )
        if not present:
            return set()
        rows = await connection.execute(text(f'SELECT version_num FROM "{schema}".alembic_version'))
        return {row[0] for row in rows}


async def migrate_to_head(
    engine: AsyncEngine, *, url: str, schema: str, migrations_dir: Path
) -> bool:
    """Upgrade `schema` unless it is at the files' head already; True when it upgraded."""
    head = file_head(migrations_dir)
    if head is not None and await database_revisions(engine, schema) == {head}:
        return False
    from fourfold.db.migrations import upgrade  # Alembic: only when there is work for it

    await upgrade(url=url, schema=schema, migrations_dir=migrations_dir)
    return True
