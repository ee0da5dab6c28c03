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

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fourfold.clock import Clock, clock_from
from fourfold.events import NUDGES_TOPIC
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
from fourfold.service.app_shell import install_shell
from fourfold.service.consuming import (
    ConsumingService,
    Running,
    Writer,
    include_routes,
    run_consuming,
)
from fourfold.service.consuming import readiness as _readiness

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
    include_routes(app, router)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: NotificationsSettings = app.state.settings
    spec = ConsumingService(
        schema=settings.database_schema,
        migrations_dir=MIGRATIONS_DIR,
        consumed=consumed_topics(settings),
        produced=[NUDGES_TOPIC],
        inbox=inbox,
        outbox=outbox,
        group_id=settings.notifications_consumer_group,
        handler=build_handler(app.state.ruleset),
        max_records=settings.notifications_consumer_max_records,
        session_timeout_ms=settings.notifications_consumer_session_timeout_ms,
        writers=lambda running: _writers(app, settings, running),
    )
    async with run_consuming(app, settings, spec):
        yield


@contextlib.asynccontextmanager
async def _writers(
    app: FastAPI, settings: NotificationsSettings, running: Running
) -> AsyncIterator[dict[str, Writer]]:
    """The scheduler and the delivery worker (woken after every commit, like the relay); the
    worker's pooled HTTP client is closed after the relay has stopped."""
    ruleset: Ruleset = app.state.ruleset
    evaluator = Evaluator(
        ruleset=ruleset,
        **running.pass_shell(
            interval_s=settings.notifications_evaluate_interval_s,
            batch_size=settings.notifications_evaluate_batch_size,
        ),
    )
    http = httpx.AsyncClient(
        timeout=settings.notifications_delivery_timeout_s,
        limits=httpx.Limits(max_connections=settings.notifications_delivery_concurrency),
        follow_redirects=False,
    )
    try:
        worker = (
            _worker(settings, running.sessions, running.clock, ruleset, http)
            if settings.notifications_delivery_workers
            else None
        )
        app.state.evaluator, app.state.worker = evaluator, worker
        writers: dict[str, Writer] = {"scheduler": evaluator}
        if worker is not None:
            running.wake.add(worker.notify)
            writers["delivery worker"] = worker
        yield writers
    finally:
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
