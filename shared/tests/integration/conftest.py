"""Fixtures the shared runtime's integration tests have in common."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.db.engine import create_engine
from fourfold.testing import effects


@pytest.fixture
async def engine(database_url: str, fresh_schema: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh schema holding the effects test service's tables."""
    await effects.create_tables(database_url, fresh_schema)
    engine = create_engine(database_url, schema=fresh_schema)
    yield engine
    await engine.dispose()
