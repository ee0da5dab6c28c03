"""Schemathesis on ingest's published OpenAPI, against ingest running under uvicorn on the
real broker and PostgreSQL: no server error, every status documented, every body as its
schema says, and events it generates from the document get accepted (202)."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from fourfold.clock import SystemClock
from fourfold.db.engine import asyncpg_dsn
from fourfold.ingest.app import create_app
from fourfold.ingest.settings import IngestSettings
from fourfold.testing.fuzz import bearer as fuzz_bearer
from fourfold.testing.fuzz import fuzz
from fourfold.testing.serving import serving

pytestmark = pytest.mark.integration

SECRET = "fuzz-ingest-secret-fuzz-ingest-secret-0123"

bearer = functools.partial(fuzz_bearer, SECRET)


def drop_schema(database_url: str, schema: str) -> None:
    async def drop() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()

    asyncio.run(drop())


@pytest.fixture
def ingest_served(kafka_bootstrap: str, database_url: str) -> Iterator[tuple[str, Any]]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    settings = IngestSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        database_schema=schema,
        auth_secret=SecretStr(SECRET),
        topic_partitions=3,
        log_json=False,
    )
    app = create_app(settings, clock=SystemClock())
    try:
        with serving(app) as base_url:
            yield base_url, app
    finally:
        drop_schema(database_url, schema)


def test_schemathesis_finds_nothing_and_gets_202s(ingest_served: tuple[str, Any]) -> None:
    base_url, app = ingest_served

    def token_for(method: str, path: str) -> dict[str, str]:
        return bearer("ingest") if method == "POST" else bearer("admin")

    seen = fuzz(app.openapi(), base_url, token_for=token_for, max_examples=60)
    posted = {status: n for (method, _, status), n in seen.items() if method == "POST"}
    assert posted.get(202, 0) > 0, f"no generated event was accepted: {posted}"
