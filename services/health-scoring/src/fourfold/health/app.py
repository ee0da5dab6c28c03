"""The health-scoring process: the FastAPI app and, in its lifespan, everything it runs.

Composition root: settings → logging → scorecard; at start the infrastructure is resolved
(embedded broker and PostgreSQL when none is named), migrations run, topics are ensured, then
the outbox relay, the batch consumer, the recompute scheduler and the inbox pruner run as
tasks until shutdown, which stops them in order (consumer and scheduler first, so their last
commits still publish).

    uvicorn fourfold.health.app:create_app --factory
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from fourfold.clock import Clock, clock_from
from fourfold.events import HEALTH_TOPIC
from fourfold.health.api import router
from fourfold.health.consumer import INPUT_TOPICS, build_handler
from fourfold.health.domain.scorecard import Scorecard, default_scorecard, load_scorecard
from fourfold.health.models import consumer_offsets, inbox, outbox
from fourfold.health.scheduler import Recomputer
from fourfold.health.settings import HealthSettings
from fourfold.logs import configure_logging
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


def consumed_topics(settings: HealthSettings) -> list[str]:
    """The input topics, with the configured prefix."""
    return [settings.health_topic_prefix + topic for topic in INPUT_TOPICS]


def scorecard_for(settings: HealthSettings) -> Scorecard:
    """The configured scorecard file, or the documented default; a bad file fails the start."""
    path = settings.health_scorecard_path
    return load_scorecard(path) if path is not None else default_scorecard()


def create_app(settings: HealthSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the app; tests pass their own settings and a ManualClock."""
    settings = settings or HealthSettings()
    settings.check_serving_secret()
    configure_logging(
        service=settings.service_name, level=settings.log_level, json=settings.log_json
    )
    app = FastAPI(
        title="Fourfold health-scoring",
        description="Customer health, lifecycle step and a partner's book of business.",
        version="1",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock or clock_from(settings)
    app.state.scorecard = scorecard_for(settings)
    install_shell(app, service=settings.service_name, readiness=_readiness)
    include_routes(app, router)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: HealthSettings = app.state.settings
    spec = ConsumingService(
        schema=settings.database_schema,
        migrations_dir=MIGRATIONS_DIR,
        consumed=consumed_topics(settings),
        produced=[HEALTH_TOPIC],
        inbox=inbox,
        outbox=outbox,
        group_id=settings.health_consumer_group,
        handler=build_handler(app.state.scorecard),
        max_records=settings.health_consumer_max_records,
        session_timeout_ms=settings.health_consumer_session_timeout_ms,
        writers=lambda running: _writers(app, settings, running),
        offsets=consumer_offsets,
    )
    async with run_consuming(app, settings, spec):
        yield


@contextlib.asynccontextmanager
async def _writers(
    app: FastAPI, settings: HealthSettings, running: Running
) -> AsyncIterator[dict[str, Writer]]:
    """The recompute scheduler, run beside the consumer (and stopped with it, before the relay)."""
    recomputer = Recomputer(
        scorecard=app.state.scorecard,
        **running.pass_shell(
            interval_s=settings.health_recompute_interval_s,
            batch_size=settings.health_recompute_batch_size,
        ),
    )
    app.state.recomputer = recomputer
    yield {"scheduler": recomputer}
