"""The incentives process: the FastAPI app and, in its lifespan, everything it runs.

Composition root: settings → logging → program text; at start the infrastructure is
resolved (embedded broker and PostgreSQL when none is named), migrations run, the
configured program is stored and activated, topics are ensured, then the outbox relay, the
batch consumer and the inbox pruner run as tasks until shutdown, which stops them in order
(consumer first, so its last commits still publish).

    uvicorn fourfold.incentives.app:create_app --factory
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.clock import Clock, clock_from
from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.events import INCENTIVES_TOPIC
from fourfold.incentives.api import router
from fourfold.incentives.consumer import INPUT_TOPICS, build_handler
from fourfold.incentives.domain.program import default_program_text, parse_program
from fourfold.incentives.models import inbox, outbox
from fourfold.incentives.programs import Programs, install
from fourfold.incentives.settings import IncentivesSettings
from fourfold.kafka.consumer import BatchConsumer
from fourfold.kafka.inbox_retention import InboxPruner, retention_for
from fourfold.kafka.outbox import OutboxRelay
from fourfold.kafka.producer import EventProducer
from fourfold.kafka.topics import ensure_topics, with_dead_letters
from fourfold.logs import configure_logging
from fourfold.service.app_shell import ReadinessCheck, install_shell
from fourfold.service.checks import broker_problem, database_problem
from fourfold.service.infrastructure import infrastructure
from fourfold.service.tuning import tune_gc

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def consumed_topics(settings: IncentivesSettings) -> list[str]:
    """The input topics, with the configured prefix."""
    return [settings.incentives_topic_prefix + topic for topic in INPUT_TOPICS]


def program_text_for(settings: IncentivesSettings) -> str:
    """The configured program's YAML, or the documented default; a bad file fails the start."""
    path = settings.incentives_program_path
    text = path.read_text(encoding="utf-8") if path is not None else default_program_text()
    parse_program(text)
    return text


def create_app(settings: IncentivesSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the app; tests pass their own settings and a ManualClock."""
    settings = settings or IncentivesSettings()
    settings.check_serving_secret()
    configure_logging(
        service=settings.service_name, level=settings.log_level, json=settings.log_json
    )
    app = FastAPI(
        title="Fourfold incentives",
        description=(
            "Lifecycle incentive programs, an append-only ledger, statements, payouts, "
            "disputes, recalculation and what-if."
        ),
        version="1",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock or clock_from(settings)
    app.state.program_text = program_text_for(settings)
    app.state.programs = Programs(refresh_s=settings.incentives_program_refresh_s)
    install_shell(app, service=settings.service_name, readiness=_readiness)
    app.include_router(router)
    return app


async def _starting() -> str | None:
    return "starting: broker and database not resolved yet"


def _readiness(app: FastAPI) -> list[ReadinessCheck]:
    state = app.state
    if getattr(state, "engine", None) is None:
        return [_starting]
    return [
        lambda: _stopped_task(state.tasks),
        lambda: database_problem(state.engine),
        lambda: broker_problem(state.bootstrap_servers),
    ]


async def _stopped_task(tasks: dict[str, asyncio.Task[None]]) -> str | None:
    """A background loop that ended on its own means no more accruals: not ready."""
    stopped = [name for name, task in tasks.items() if task.done()]
    return f"background task stopped: {', '.join(stopped)}" if stopped else None


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: IncentivesSettings = app.state.settings
    async with infrastructure(settings) as infra:
        schema = settings.database_schema
        await upgrade(url=infra.database_url, schema=schema, migrations_dir=MIGRATIONS_DIR)
        await ensure_topics(
            infra.kafka_bootstrap_servers,
            with_dead_letters([*consumed_topics(settings), INCENTIVES_TOPIC]),
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
        )
        engine = create_engine(infra.database_url, schema=schema)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            await install(session, app.state.program_text, at=app.state.clock.now())
        producer = EventProducer(infra.kafka_bootstrap_servers, client_id=settings.service_name)
        await producer.start()
        try:
            async with _running(app, settings, engine, producer, infra.kafka_bootstrap_servers):
                yield
        finally:
            await producer.stop()
            await engine.dispose()


@contextlib.asynccontextmanager
async def _running(
    app: FastAPI,
    settings: IncentivesSettings,
    engine: AsyncEngine,
    producer: EventProducer,
    bootstrap: str,
) -> AsyncIterator[None]:
    """Run relay, consumer and pruner for the block; stop the writers first, then the relay."""
    sessions = session_factory(engine)
    service, clock = settings.service_name, app.state.clock
    relay = OutboxRelay(sessions=sessions, outbox=outbox, producer=producer, service=service)
    consumer = BatchConsumer(
        bootstrap_servers=bootstrap,
        group_id=settings.incentives_consumer_group,
        topics=consumed_topics(settings),
        sessions=sessions,
        inbox=inbox,
        outbox=outbox,
        producer=producer,
        handler=build_handler(app.state.programs),
        service=service,
        clock=clock,
        max_records=settings.incentives_consumer_max_records,
        session_timeout_ms=settings.incentives_consumer_session_timeout_ms,
        on_committed=relay.notify,
    )
    configured = timedelta(days=settings.inbox_retention_days)
    retention = await retention_for(configured, bootstrap, consumed_topics(settings))
    pruner = (
        None
        if retention is None
        else InboxPruner(
            sessions=sessions,
            inbox=inbox,
            retention=retention,
            interval_s=settings.inbox_prune_interval_s,
            service=service,
        )
    )
    app.state.engine, app.state.bootstrap_servers = engine, bootstrap
    app.state.sessions, app.state.outbox, app.state.relay = sessions, outbox, relay
    app.state.consumer, app.state.pruner = consumer, pruner
    await consumer.start()
    loops = {"consumer": consumer.run()}
    if pruner is not None:
        loops["inbox pruning"] = pruner.run()
    tasks = {name: asyncio.create_task(loop) for name, loop in loops.items()}
    writers = list(tasks.values())  # stopped before the relay, which publishes their last commits
    tasks["outbox relay"] = publishing = asyncio.create_task(relay.run())
    app.state.tasks = tasks
    tune_gc()
    try:
        yield
    finally:
        consumer.stop()
        if pruner is not None:
            pruner.stop()
        await asyncio.gather(*writers, return_exceptions=True)
        relay.stop()
        await asyncio.gather(publishing, return_exceptions=True)
