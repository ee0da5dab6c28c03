"""Ingest test fixtures: the real app on the session's broker and a schema of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from fourfold.auth import issue_token
from fourfold.clock import SystemClock
from fourfold.ingest.app import create_app
from fourfold.ingest.settings import IngestSettings

SECRET = "ingest-test-secret-ingest-test-secret-0123"
Issuer = Callable[..., dict[str, str]]


def make_settings(
    bootstrap: str, database_url: str, schema: str, **extra: object
) -> IngestSettings:
    return IngestSettings(
        kafka_bootstrap_servers=bootstrap,
        database_url=database_url,
        database_schema=schema,
        auth_secret=SecretStr(SECRET),
        topic_partitions=3,
        publish_timeout_s=2.0,
        log_json=False,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def auth_header() -> Issuer:
    """Authorization header for a token of the given role."""

    def header(role: str = "ingest", partner_id: str | None = None) -> dict[str, str]:
        token = issue_token(
            secret=SECRET,
            issuer="fourfold",
            role=role,  # type: ignore[arg-type]
            subject=f"test-{role}",
            partner_id=partner_id,
            now=datetime.now(UTC),
        )
        return {"Authorization": f"Bearer {token}"}

    return header


@pytest.fixture
def ingest_settings(kafka_bootstrap: str, database_url: str, fresh_schema: str) -> IngestSettings:
    return make_settings(kafka_bootstrap, database_url, fresh_schema)


@pytest.fixture
async def client(ingest_settings: IngestSettings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the ingest app with its lifespan running."""
    async with running_client(ingest_settings) as http:
        yield http


class running_client:  # noqa: N801 - reads as a context manager function
    def __init__(self, settings: IngestSettings) -> None:
        self.app = create_app(settings, clock=SystemClock())
        self._lifespan = self.app.router.lifespan_context(self.app)
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://ingest"
        )

    async def __aenter__(self) -> httpx.AsyncClient:
        await self._lifespan.__aenter__()
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)
