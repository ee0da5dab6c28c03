"""The lifespan every consuming service runs, in one place.

A consuming service (health-scoring, incentives, notifications) starts the same way:
resolve the infrastructure (embedded broker and PostgreSQL when none is named), bring its
schema to head (Alembic only when it is behind), ensure its topics (with their dead-letter
twins) and start the producer, those three together; then run the outbox relay, the
`BatchConsumer`, the service's own writers (schedulers, workers) and the inbox pruner as
tasks until shutdown. Shutdown stops the writers first (consumer, the service's writers,
pruner, in that order) and waits for them, so their last commits are still published, then
the relay, then the producer and the engine. What differs between services is passed in a
`ConsumingService`. Each step's seconds are logged once the process is up
(`fourfold.service.startup`).

The process role (`FOURFOLD_ROLE`, docs/runtime.md "Process roles") picks what runs: `all`
(the default) everything above and the routes; `api` the routes on the engine and nothing
in the background (a route's outbox rows are published by a worker's relay, which polls
the outbox besides being woken); `worker` everything in the background and no routes
(`include_routes` leaves them out), only /healthz, /readyz and /metrics.

`run_consuming(app, settings, spec)` is the lifespan body; `readiness(app)` is the
`/readyz` checks for an app it runs: "starting" until the engine is open, then a
background task that ended on its own, the consumer still joining its group (no assignment
yet), the database and the broker; for the `api` role the database alone.

The running parts land on `app.state` for the routes and the tests: `engine`,
`bootstrap_servers`, `sessions`, `outbox`, `relay`, `consumer`, `pruner` (None when the
broker keeps records forever), `wake_writers` (wakes the relay and every waker a service
added: call it after a route's commit) and `tasks` (by name: "consumer", the service's
writers, "inbox pruning", "outbox relay"). In the `api` role `relay`, `consumer`, `pruner`
and `bootstrap_servers` are None, `tasks` is empty and `wake_writers` wakes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fourfold.clock import Clock
from fourfold.db.engine import create_engine, session_factory
from fourfold.kafka.consumer import BatchConsumer, Handler
from fourfold.kafka.inbox_retention import InboxPruner, retention_for
from fourfold.kafka.outbox import OutboxRelay
from fourfold.kafka.producer import EventProducer
from fourfold.kafka.topics import ensure_topics, with_dead_letters
from fourfold.service.app_shell import ReadinessCheck
from fourfold.service.checks import broker_problem, database_problem
from fourfold.service.infrastructure import infrastructure
from fourfold.service.scheduled import PassShell
from fourfold.service.schema_head import migrate_to_head
from fourfold.service.startup import StartSteps
from fourfold.service.tuning import tune_gc
from fourfold.settings import FourfoldSettings

Sessions = async_sessionmaker[AsyncSession]


class Writer(Protocol):
    """A background loop: `run()` until `stop()` asks it to end after the work in hand."""

    def run(self) -> Coroutine[Any, Any, None]: ...

    def stop(self) -> None: ...


class Wakers:
    """Called after every commit that may have staged work: wakes the relay and the rest."""

    def __init__(self, *wakers: Callable[[], None]) -> None:
        self._wakers = list(wakers)

    def add(self, waker: Callable[[], None]) -> None:
        """Wake `waker` too after each commit (e.g. a delivery worker)."""
        self._wakers.append(waker)

    def __call__(self) -> None:
        for wake in self._wakers:
            wake()


@dataclass(frozen=True)
class Running:
    """What the runner has built, handed to the service's `writers` hook."""

    sessions: Sessions
    clock: Clock
    wake: Wakers
    outbox: Table

    def pass_shell(self, *, interval_s: float, batch_size: int) -> PassShell:
        """The arguments every `ScheduledPass` takes: this runner's sessions, outbox and
        clock, and a wake of the relay (and the other wakers) after each committed chunk."""
        return PassShell(
            sessions=self.sessions,
            outbox=self.outbox,
            clock=self.clock,
            interval_s=interval_s,
            batch_size=batch_size,
            on_committed=self.wake,
        )


WritersHook = Callable[[Running], AbstractAsyncContextManager[Mapping[str, Writer]]]
"""The service's own writers by task name, built and (on exit) closed by the service."""


@dataclass(frozen=True)
class ConsumingService:
    """What differs between consuming services; `run_consuming` owns the rest."""

    schema: str
    """The PostgreSQL schema the service owns (its settings' `database_schema`)."""
    migrations_dir: Path
    consumed: Sequence[str]
    """The input topics, prefixed as configured."""
    produced: Sequence[str]
    """The topics the relay publishes to (ensured with the inputs and every dead-letter twin)."""
    inbox: Table
    outbox: Table
    group_id: str
    handler: Handler
    max_records: int
    session_timeout_ms: int
    prepare: Callable[[Sessions], Awaitable[None]] | None = None
    """Run once after the engine opens and before the producer starts (e.g. seed a table)."""
    writers: WritersHook | None = None
    """The service's writers, run after the consumer and before the inbox pruner."""
    offsets: Table | None = None
    """The consumer in offsets mode (docs/runtime.md): for handlers idempotent by key."""


def include_routes(app: FastAPI, router: APIRouter) -> None:
    """Serve the service's routes, unless this process is a `worker` (ops routes only)."""
    if app.state.settings.role != "worker":
        app.include_router(router)


@contextlib.asynccontextmanager
async def run_consuming(
    app: FastAPI, settings: FourfoldSettings, spec: ConsumingService
) -> AsyncIterator[None]:
    """The lifespan body: everything runs for the block and stops in order on its way out."""
    steps = StartSteps(settings.role)
    app.state.role = settings.role
    async with contextlib.AsyncExitStack() as stack:
        infra = await steps.timed(
            "infrastructure", stack.enter_async_context(infrastructure(settings))
        )
        engine = create_engine(infra.database_url, schema=spec.schema)
        stack.push_async_callback(engine.dispose)

        async def schema_then_prepare() -> None:
            await steps.timed(
                "migrations",
                migrate_to_head(
                    engine,
                    url=infra.database_url,
                    schema=spec.schema,
                    migrations_dir=spec.migrations_dir,
                ),
            )
            if spec.prepare is not None:
                await steps.timed("prepare", spec.prepare(session_factory(engine)))

        if settings.role == "api":
            await schema_then_prepare()
            _serve_routes_only(app, spec, engine)
            tune_gc()
            steps.done()
            yield
            return
        producer = EventProducer(infra.kafka_bootstrap_servers, client_id=settings.service_name)
        stack.push_async_callback(producer.stop)
        await _together(
            schema_then_prepare(),
            steps.timed(
                "topics",
                ensure_topics(
                    infra.kafka_bootstrap_servers,
                    with_dead_letters([*spec.consumed, *spec.produced]),
                    partitions=settings.topic_partitions,
                    replication_factor=settings.topic_replication_factor,
                ),
            ),
            steps.timed("producer", producer.start()),
        )
        async with _running(
            app, settings, spec, engine, producer, infra.kafka_bootstrap_servers, steps
        ):
            steps.done()
            yield


async def _together(*steps: Awaitable[None]) -> None:
    """Run independent start steps at once; when one fails, raise it after all ended (so
    nothing still runs behind the cleanup)."""
    outcomes = await asyncio.gather(*steps, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def _serve_routes_only(app: FastAPI, spec: ConsumingService, engine: AsyncEngine) -> None:
    """The `api` role: the routes' sessions and outbox, nothing running in the background.

    A route's commit wakes nothing here: the worker's relay finds the staged rows on its
    next poll of the outbox (`OutboxRelay`'s idle interval, 0.5 s)."""
    state = app.state
    state.engine, state.bootstrap_servers = engine, None
    state.sessions, state.outbox, state.relay = session_factory(engine), spec.outbox, None
    state.consumer, state.pruner, state.wake_writers = None, None, Wakers()
    state.tasks = {}


@contextlib.asynccontextmanager
async def _running(
    app: FastAPI,
    settings: FourfoldSettings,
    spec: ConsumingService,
    engine: AsyncEngine,
    producer: EventProducer,
    bootstrap: str,
    steps: StartSteps,
) -> AsyncIterator[None]:
    """Run relay, consumer, writers and pruner for the block; stop writers, then the relay."""
    sessions = session_factory(engine)
    service, clock = settings.service_name, app.state.clock
    relay = OutboxRelay(sessions=sessions, outbox=spec.outbox, producer=producer, service=service)
    wake = Wakers(relay.notify)
    consumer = BatchConsumer(
        bootstrap_servers=bootstrap,
        group_id=spec.group_id,
        topics=spec.consumed,
        sessions=sessions,
        inbox=spec.inbox,
        outbox=spec.outbox,
        producer=producer,
        handler=spec.handler,
        service=service,
        clock=clock,
        max_records=spec.max_records,
        session_timeout_ms=spec.session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        instance=settings.consumer_instance,
        remove_predecessor=settings.consumer_remove_predecessor,
        on_committed=wake,
        offsets=spec.offsets,
    )
    async with contextlib.AsyncExitStack() as stack:
        extra: Mapping[str, Writer] = {}
        if spec.writers is not None:
            built = Running(sessions, clock, wake, spec.outbox)
            extra = await stack.enter_async_context(spec.writers(built))
        configured = timedelta(days=settings.inbox_retention_days)
        # Both ask the broker; the consumer's start removes a killed predecessor first.
        retention, _ = await asyncio.gather(
            steps.timed("retention", retention_for(configured, bootstrap, spec.consumed)),
            steps.timed("consumer start", consumer.start()),
        )
        pruner = (
            None
            if retention is None
            else InboxPruner(
                sessions=sessions,
                inbox=spec.inbox,
                retention=retention,
                interval_s=settings.inbox_prune_interval_s,
                service=service,
            )
        )
        app.state.engine, app.state.bootstrap_servers = engine, bootstrap
        app.state.sessions, app.state.outbox, app.state.relay = sessions, spec.outbox, relay
        app.state.consumer, app.state.pruner, app.state.wake_writers = consumer, pruner, wake
        writers: dict[str, Writer] = {"consumer": consumer, **extra}
        if pruner is not None:
            writers["inbox pruning"] = pruner
        tasks = {name: asyncio.create_task(writer.run()) for name, writer in writers.items()}
        running = list(tasks.values())  # stopped before the relay, which publishes their commits
        tasks["outbox relay"] = publishing = asyncio.create_task(relay.run())
        app.state.tasks = tasks
        tune_gc()
        try:
            yield
        finally:
            for writer in writers.values():
                writer.stop()
            await asyncio.gather(*running, return_exceptions=True)
            relay.stop()
            await asyncio.gather(publishing, return_exceptions=True)


async def _starting() -> str | None:
    return "starting: broker and database not resolved yet"


def readiness(app: FastAPI) -> list[ReadinessCheck]:
    """The /readyz checks of an app `run_consuming` runs (pass to `install_shell`)."""
    state = app.state
    if getattr(state, "engine", None) is None:
        return [_starting]
    if getattr(state, "role", "all") == "api":
        return [lambda: database_problem(state.engine)]
    return [
        lambda: _stopped_task(state.tasks),
        lambda: _joining(state.consumer),
        lambda: database_problem(state.engine),
        lambda: broker_problem(state.bootstrap_servers),
    ]


async def _joining(consumer: BatchConsumer) -> str | None:
    """Not ready until the group gave the consumer its first assignment (possibly empty)."""
    return None if consumer.joined.is_set() else "consumer joining its group"


async def _stopped_task(tasks: dict[str, asyncio.Task[None]]) -> str | None:
    """A background loop that ended on its own means no more output: not ready."""
    stopped = [name for name, task in tasks.items() if task.done()]
    return f"background task stopped: {', '.join(stopped)}" if stopped else None
