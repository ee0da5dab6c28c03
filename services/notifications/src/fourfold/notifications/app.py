"""The notifications process: the FastAPI app and, in its lifespan, everything it runs.

Composition root: settings → logging → rule configuration (templates compiled and
test-rendered: a bad one fails the start); at start the infrastructure is resolved
(embedded broker and PostgreSQL when none is named), migrations run, topics are ensured,
then the outbox relay, the batch consumer, the scheduler (time-based rules and digests),
the delivery worker and the inbox pruner run as tasks until shutdown, which stops them in
order (writers first, so their last commits still publish; the relay last).

    uvicorn fourfold.notifications.app:create_app --factory
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fourfold.clock import Clock, clock_from
from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.events import NUDGES_TOPIC
from fourfold.kafka.consumer import BatchConsumer
from fourfold.kafka.inbox_retention import InboxPruner, retention_for
from fourfold.kafka.outbox import OutboxRelay
from fourfold.kafka.producer import EventProducer
from fourfold.kafka.topics import ensure_topics, with_dead_letters
from fourfold.logs import configure_logging
from fourfold.notifications.api import router
from fourfold.notifications.consumer import INPUT_TOPICS, build_handler
from fourfold.notifications.delivery.senders import (
    EmailSender,
    Sender,
    SlackSender,
    Smtp,
    WebhookSender,
)
from fourfold.notifications.delivery.worker import DeliveryWorker
from fourfold.notifications.domain.config import RuleConfig, default_config, load_config
from fourfold.notifications.evaluation import Ruleset
from fourfold.notifications.models import inbox, outbox
from fourfold.notifications.scheduler import Evaluator
from fourfold.notifications.settings import NotificationsSettings
from fourfold.service.app_shell import ReadinessCheck, install_shell
from fourfold.service.checks import broker_problem, database_problem
from fourfold.service.infrastructure import infrastructure
from fourfold.service.tuning import tune_gc

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def consumed_topics(settings: NotificationsSettings) -> list[str]:
    """The input topics, with the configured prefix."""
    return [settings.notifications_topic_prefix + topic for topic in INPUT_TOPICS]


def rules_for(settings: NotificationsSettings) -> RuleConfig:
    """The configured rule file, or the documented default; a bad file fails the start."""
    path = settings.notifications_rules_path
    return load_config(path) if path is not None else default_config()


def create_app(
    settings: NotificationsSettings | None = None, clock: Clock | None = None
) -> FastAPI:
    """Build the app; tests pass their own settings and a ManualClock."""
    settings = settings or NotificationsSettings()
    settings.check_serving_secret()
    configure_logging(
        service=settings.service_name, level=settings.log_level, json=settings.log_json
    )
    app = FastAPI(
        title="Fourfold notifications",
        description="Nudges for partners: the in-app feed, channels, deliveries and dead letters.",
        version="1",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock or clock_from(settings)
    app.state.ruleset = Ruleset.of(rules_for(settings))
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
    """A background loop that ended on its own means no more nudges: not ready."""
    stopped = [name for name, task in tasks.items() if task.done()]
    return f"background task stopped: {', '.join(stopped)}" if stopped else None


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: NotificationsSettings = app.state.settings
    async with infrastructure(settings) as infra:
        schema = settings.database_schema
        await upgrade(url=infra.database_url, schema=schema, migrations_dir=MIGRATIONS_DIR)
        await ensure_topics(
            infra.kafka_bootstrap_servers,
            with_dead_letters([*consumed_topics(settings), NUDGES_TOPIC]),
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
        )
        engine = create_engine(infra.database_url, schema=schema)
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
    settings: NotificationsSettings,
    engine: AsyncEngine,
    producer: EventProducer,
    bootstrap: str,
) -> AsyncIterator[None]:
    """Run relay, consumer, scheduler and worker for the block; stop writers, then the relay."""
    sessions = session_factory(engine)
    service, clock, ruleset = settings.service_name, app.state.clock, app.state.ruleset
    relay = OutboxRelay(sessions=sessions, outbox=outbox, producer=producer, service=service)
    wakers = [relay.notify]

    def committed() -> None:
        for wake in wakers:
            wake()

    consumer = BatchConsumer(
        bootstrap_servers=bootstrap,
        group_id=settings.notifications_consumer_group,
        topics=consumed_topics(settings),
        sessions=sessions,
        inbox=inbox,
        outbox=outbox,
        producer=producer,
        handler=build_handler(ruleset),
        service=service,
        clock=clock,
        max_records=settings.notifications_consumer_max_records,
        session_timeout_ms=settings.notifications_consumer_session_timeout_ms,
        on_committed=committed,
    )
    evaluator = Evaluator(
        sessions=sessions,
        outbox=outbox,
        ruleset=ruleset,
        clock=clock,
        interval_s=settings.notifications_evaluate_interval_s,
        batch_size=settings.notifications_evaluate_batch_size,
        on_committed=committed,
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
    http = httpx.AsyncClient(
        timeout=settings.notifications_delivery_timeout_s,
        limits=httpx.Limits(max_connections=settings.notifications_delivery_concurrency),
        follow_redirects=False,
    )
    worker = (
        _worker(settings, sessions, clock, ruleset, http)
        if settings.notifications_delivery_workers
        else None
    )
    if worker is not None:
        wakers.append(worker.notify)
    app.state.engine, app.state.bootstrap_servers = engine, bootstrap
    app.state.sessions, app.state.outbox, app.state.relay = sessions, outbox, relay
    app.state.consumer, app.state.evaluator, app.state.pruner = consumer, evaluator, pruner
    app.state.wake_writers, app.state.worker = committed, worker
    await consumer.start()
    loops: dict[str, Coroutine[Any, Any, None]] = {
        "consumer": consumer.run(),
        "scheduler": evaluator.run(),
    }
    stoppers = [consumer.stop, evaluator.stop]
    if worker is not None:
        loops["delivery worker"] = worker.run()
        stoppers.append(worker.stop)
    if pruner is not None:
        loops["inbox pruning"] = pruner.run()
        stoppers.append(pruner.stop)
    tasks = {name: asyncio.create_task(loop) for name, loop in loops.items()}
    writers = list(tasks.values())  # stopped before the relay, which publishes their last commits
    tasks["outbox relay"] = publishing = asyncio.create_task(relay.run())
    app.state.tasks = tasks
    tune_gc()
    try:
        yield
    finally:
        for stop in stoppers:
            stop()
        await asyncio.gather(*writers, return_exceptions=True)
        relay.stop()
        await asyncio.gather(publishing, return_exceptions=True)
        await http.aclose()


def _worker(
    settings: NotificationsSettings,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    ruleset: Ruleset,
    http: httpx.AsyncClient,
) -> DeliveryWorker:
    """The delivery worker with one sender per channel kind (one pooled HTTP client)."""
    password = settings.notifications_smtp_password
    smtp = Smtp(
        host=settings.notifications_smtp_host,
        port=settings.notifications_smtp_port,
        sender=settings.notifications_mail_from,
        username=settings.notifications_smtp_username,
        password=None if password is None else password.get_secret_value(),
        starttls=settings.notifications_smtp_starttls,
        timeout_s=settings.notifications_delivery_timeout_s,
    )
    senders: dict[str, Sender] = {
        "webhook": WebhookSender(http, clock),
        "slack": SlackSender(http),
        "email": EmailSender(smtp),
    }
    return DeliveryWorker(
        sessions=sessions,
        senders=senders,
        clock=clock,
        retry=ruleset.config.delivery.retry,
        concurrency=settings.notifications_delivery_concurrency,
        per_endpoint=settings.notifications_delivery_per_endpoint,
        lease_s=settings.notifications_delivery_lease_s,
        poll_s=settings.notifications_delivery_poll_s,
    )
