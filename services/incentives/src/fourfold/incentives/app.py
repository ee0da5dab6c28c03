"""The incentives process: the FastAPI app and, in its lifespan, everything it runs.

Composition root: settings → logging → program text; at start the infrastructure is
resolved (embedded broker and PostgreSQL when none is named), migrations run, the
configured program is stored and activated, topics are ensured, then the outbox relay, the
batch consumer, the adoption sweep and the inbox pruner run as tasks until shutdown, which
stops them in order (consumer and sweep first, so their last commits still publish).

    uvicorn fourfold.incentives.app:create_app --factory
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from fourfold.clock import Clock, clock_from
from fourfold.events import INCENTIVES_TOPIC
from fourfold.incentives.api import router
from fourfold.incentives.consumer import INPUT_TOPICS, build_handler
from fourfold.incentives.domain.program import default_program_text, parse_program
from fourfold.incentives.models import consumer_offsets, inbox, outbox
from fourfold.incentives.programs import Programs, install
from fourfold.incentives.scheduler import AdoptionSweep
from fourfold.incentives.settings import IncentivesSettings
from fourfold.logs import configure_logging
from fourfold.service.app_shell import install_shell
from fourfold.service.consuming import (
    ConsumingService,
    Running,
    Sessions,
    Writer,
    include_routes,
    run_consuming,
)
from fourfold.service.consuming import readiness as _readiness

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
    include_routes(app, router)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: IncentivesSettings = app.state.settings

    async def install_program(sessions: Sessions) -> None:
        """Store and activate the configured program before anything consumes."""
        async with sessions() as session, session.begin():
            await install(session, app.state.program_text, at=app.state.clock.now())

    spec = ConsumingService(
        schema=settings.database_schema,
        migrations_dir=MIGRATIONS_DIR,
        consumed=consumed_topics(settings),
        produced=[INCENTIVES_TOPIC],
        inbox=inbox,
        outbox=outbox,
        offsets=consumer_offsets,
        group_id=settings.incentives_consumer_group,
        handler=build_handler(app.state.programs),
        max_records=settings.incentives_consumer_max_records,
        session_timeout_ms=settings.incentives_consumer_session_timeout_ms,
        prepare=install_program,
        writers=lambda running: _writers(app, settings, running),
    )
    async with run_consuming(app, settings, spec):
        yield


@contextlib.asynccontextmanager
async def _writers(
    app: FastAPI, settings: IncentivesSettings, running: Running
) -> AsyncIterator[dict[str, Writer]]:
    """The adoption sweep, run beside the consumer (and stopped with it, before the relay)."""
    sweep = AdoptionSweep(
        programs=app.state.programs,
        **running.pass_shell(
            interval_s=settings.incentives_adoption_sweep_interval_s,
            batch_size=settings.incentives_adoption_sweep_batch_size,
        ),
    )
    app.state.adoption_sweep = sweep
    yield {"adoption sweep": sweep}
