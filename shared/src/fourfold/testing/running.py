"""A service's app with its lifespan running, for the integration tests of a consuming service.

`running_app(app, settings, wrap, base_url=...)` is an async context manager: it enters the
app's lifespan (broker, database, consumer, relay and the rest, exactly as in production),
waits until the consumer has joined its group (what `/readyz` waits for), gives an
`httpx.AsyncClient` on the app (ASGI, no socket) and yields `wrap(app, client, settings)`;
on exit it closes the client, then runs the lifespan's shutdown.

`RunningApp` is the base of the object a test drives: the app, client, settings and the
app's ManualClock, and the helpers every service's tests use (produce events to the
service's prefixed topics, a bearer token, GET as admin, SQL on the service's schema, how
many events the inbox holds). A service's conftest subclasses it, names its topic prefix and
test secret, and adds its own helpers.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.auth import issue_token
from fourfold.clock import ManualClock
from fourfold.events import Envelope
from fourfold.settings import FourfoldSettings
from fourfold.testing.kafka import produce_raw

JOIN_TIMEOUT_S = 60.0
"""How long a test waits for the consumer's first assignment (a group join takes ~3 s)."""


async def consumer_joined(app: FastAPI) -> None:
    """Wait until `app`'s consumer (if it has one) holds its first assignment: what
    `/readyz` waits for, since start no longer blocks on the group join."""
    consumer = getattr(app.state, "consumer", None)
    if consumer is not None:
        await asyncio.wait_for(consumer.joined.wait(), JOIN_TIMEOUT_S)


SettingsT = TypeVar("SettingsT", bound=FourfoldSettings)
ServiceT = TypeVar("ServiceT")


class RunningApp(Generic[SettingsT]):
    """The running app, its HTTP client, clock and database, and helpers to drive them."""

    secret: ClassVar[str]
    """The token secret the test settings carry."""

    def __init__(self, app: Any, client: httpx.AsyncClient, settings: SettingsT) -> None:
        self.app, self.client, self.settings = app, client, settings
        self.clock: ManualClock = app.state.clock

    @property
    def topic_prefix(self) -> str:
        """The prefix the test settings put before every input topic."""
        raise NotImplementedError

    @property
    def engine(self) -> AsyncEngine:
        engine: AsyncEngine = self.app.state.engine
        return engine

    def topic(self, name: str) -> str:
        return self.topic_prefix + name

    async def produce(self, events: list[Envelope]) -> None:
        """Produce events to their (prefixed) topics, keyed like ingest does, in list order."""
        by_topic: dict[str, list[tuple[bytes | None, bytes]]] = defaultdict(list)
        for event in events:
            by_topic[self.topic(event.topic)].append((event.key.encode(), event.to_json_bytes()))
        for topic, records in by_topic.items():
            await produce_raw(self.settings.kafka_bootstrap_servers or "", topic, records)

    def subject(self, role: str, partner: str | None) -> str:
        """The token's subject (a service's tests may tell partners' users apart)."""
        return f"test-{role}"

    def auth(self, role: str = "admin", partner: str | None = None) -> dict[str, str]:
        token = issue_token(
            secret=self.secret,
            issuer="fourfold",
            role=role,  # type: ignore[arg-type]
            subject=self.subject(role, partner),
            partner_id=partner,
            now=self.clock.now(),
        )
        return {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, **params: Any) -> Any:
        """GET as admin and return the JSON of a 200 (asserting it)."""
        response = await self.client.get(path, params=params, headers=self.auth())
        assert response.status_code == 200, response.text
        return response.json()

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as connection:
            return await connection.scalar(text(sql), params)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as connection:
            return list(await connection.execute(text(sql), params))

    async def processed(self) -> int:
        """Events this service's consumer group has applied (its inbox rows)."""
        return int(await self.scalar("SELECT count(*) FROM inbox") or 0)


class running_app(Generic[ServiceT]):  # noqa: N801 - reads as a context manager function
    """Enter the app's lifespan and yield `wrap(app, client, settings)`; shut down on exit."""

    def __init__(
        self,
        app: Any,
        settings: Any,
        wrap: Callable[[Any, httpx.AsyncClient, Any], ServiceT],
        *,
        base_url: str,
    ) -> None:
        self.app, self.settings, self._wrap = app, settings, wrap
        self._lifespan = app.router.lifespan_context(app)
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    async def __aenter__(self) -> ServiceT:
        await self._lifespan.__aenter__()
        await consumer_joined(self.app)
        return self._wrap(self.app, self._client, self.settings)

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)
