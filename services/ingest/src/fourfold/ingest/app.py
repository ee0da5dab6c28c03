"""The ingest service: FastAPI app factory and lifespan (the composition root)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from fourfold.clock import Clock, clock_from
from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.ingest.adapters.routes import router as adapter_routes
from fourfold.ingest.api import install_fast_post, router
from fourfold.ingest.claims import ClaimConnections
from fourfold.ingest.publishing import GROUPS_IN_FLIGHT
from fourfold.ingest.runtime import IngestRuntime
from fourfold.ingest.settings import IngestSettings
from fourfold.kafka.producer import BrokerUnavailable, EventProducer
from fourfold.logs import configure_logging
from fourfold.service.app_shell import ReadinessCheck, install_shell
from fourfold.service.checks import broker_problem, database_problem
from fourfold.service.infrastructure import infrastructure
from fourfold.service.tuning import tune_gc

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def create_app(settings: IngestSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the ingest app; settings come from the environment unless handed in (tests)."""
    settings = settings or IngestSettings()
    settings.check_serving_secret()
    configure_logging(
        service=settings.service_name, level=settings.log_level, json=settings.log_json
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with infrastructure(settings) as infra:
            await upgrade(
                url=infra.database_url, schema=settings.database_schema, migrations_dir=MIGRATIONS
            )
            engine = create_engine(infra.database_url, schema=settings.database_schema)
            claims = await ClaimConnections.open(
                infra.database_url, schema=settings.database_schema, size=GROUPS_IN_FLIGHT
            )
            producer = EventProducer(
                infra.kafka_bootstrap_servers,
                client_id=settings.service_name,
                send_timeout_s=settings.publish_timeout_s,
                # Group commit is ingest's batching: a group's records are all queued before
                # the flush, so lingering would only delay each group's ack (2 ms of ~3.5).
                linger_ms=0,
                # aiokafka gives up on a batch a little before we answer 503: this narrows
                # (cannot close) the window in which a refused batch is still delivered.
                request_timeout_ms=int(settings.publish_timeout_s * 800),
            )
            try:
                await producer.start()
            except BrokerUnavailable:
                log.warning("broker unreachable at start; requests answer 503 until it is back")
            app.state.runtime = IngestRuntime(
                settings=settings,
                clock=app.state.clock,
                bootstrap_servers=infra.kafka_bootstrap_servers,
                engine=engine,
                sessions=session_factory(engine),
                claims=claims,
                producer=producer,
            )
            tune_gc()
            try:
                yield
            finally:
                await producer.stop()
                await claims.close()
                await engine.dispose()

    app = FastAPI(
        title="Fourfold ingest",
        version="1.0.0",
        summary="Validates vendor events (CloudEvents 1.0) and publishes them to the input topics.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock or clock_from(settings)

    def readiness(app: FastAPI) -> list[ReadinessCheck]:
        rt: IngestRuntime = app.state.runtime
        return [
            lambda: database_problem(rt.engine),
            lambda: broker_problem(rt.bootstrap_servers),
        ]

    install_shell(app, service=settings.service_name, readiness=readiness)
    app.include_router(router)
    app.include_router(adapter_routes)
    install_fast_post(app)
    return app
