"""Cross-service fixtures: ingest and health-scoring, each in its lifespan and its own schema,
on the session's broker and PostgreSQL, sharing one auth secret."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from fourfold.auth import issue_token
from fourfold.clock import SystemClock
from fourfold.health.app import create_app as create_health_app
from fourfold.health.settings import HealthSettings
from fourfold.ingest.app import create_app as create_ingest_app
from fourfold.ingest.settings import IngestSettings
from fourfold.testing.fixtures import drop_schemas
from fourfold.testing.running import consumer_joined

SECRET = "e2e-test-secret-e2e-test-secret-e2e-0123"


@dataclass(frozen=True)
class Stack:
    """Both services' HTTP clients and the broker they share."""

    ingest: httpx.AsyncClient
    health: httpx.AsyncClient
    bootstrap: str

    def auth(self, role: str, partner: str | None = None) -> dict[str, str]:
        """Authorization header for a token of `role` (and `partner`), valid on both."""
        token = issue_token(
            secret=SECRET,
            issuer="fourfold",
            role=role,  # type: ignore[arg-type]
            subject=f"e2e-{role}",
            partner_id=partner,
            now=datetime.now(UTC),
        )
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def schemas(database_url: str) -> AsyncIterator[tuple[str, str]]:
    """Two schema names of the test's own (ingest, health), dropped afterwards."""
    names = (f"e2e_ingest_{uuid.uuid4().hex[:10]}", f"e2e_health_{uuid.uuid4().hex[:10]}")
    yield names
    await drop_schemas(database_url, *names)


@contextlib.asynccontextmanager
async def running(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on `app` while its lifespan runs, once its consumer has joined."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}") as c,
    ):
        await consumer_joined(app)
        yield c


@pytest.fixture
async def stack(
    kafka_bootstrap: str, database_url: str, schemas: tuple[str, str], unique: str
) -> AsyncIterator[Stack]:
    """Ingest and health-scoring running side by side; health in a consumer group of its own
    on the real input topics (no prefix: ingest always publishes to the real ones)."""
    shared = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "database_url": database_url,
        "auth_secret": SecretStr(SECRET),
        "topic_partitions": 3,
        "log_json": False,
    }
    ingest = IngestSettings(database_schema=schemas[0], publish_timeout_s=2.0, **shared)  # type: ignore[arg-type]
    health = HealthSettings(
        database_schema=schemas[1],
        health_consumer_group=f"health-e2e-{unique}",
        health_consumer_session_timeout_ms=6000,
        health_recompute_interval_s=3600,
        **shared,  # type: ignore[arg-type]
    )
    async with (
        running(create_ingest_app(ingest, clock=SystemClock()), "ingest") as ingest_client,
        running(create_health_app(health, clock=SystemClock()), "health") as health_client,
    ):
        yield Stack(ingest=ingest_client, health=health_client, bootstrap=kafka_bootstrap)
