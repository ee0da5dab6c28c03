"""Where the broker and the database are: named by settings, or embedded for this process.

A URL in the settings switches the embedded part off. A service started alone with neither
set brings up its own embedded broker and database and stops them on shutdown; `make dev`
starts them once and hands the URLs to every service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fourfold.settings import FourfoldSettings

if TYPE_CHECKING:  # imported when started: a deployment names both and never pays for them
    from fourfold.infra.broker import EmbeddedBroker
    from fourfold.infra.postgres import EmbeddedPostgres

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Infrastructure:
    kafka_bootstrap_servers: str
    database_url: str


@contextlib.asynccontextmanager
async def infrastructure(settings: FourfoldSettings) -> AsyncIterator[Infrastructure]:
    """Resolve (and if needed start) the broker and database for the block's lifetime."""
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    try:
        bootstrap = settings.kafka_bootstrap_servers
        if not bootstrap:
            from fourfold.infra.broker import EmbeddedBroker

            # Starting waits on the child with blocking calls: off the event loop.
            broker = await asyncio.to_thread(EmbeddedBroker(settings.state_dir).start)
            bootstrap = broker.bootstrap_servers
            log.info("started embedded broker", extra={"bootstrap": bootstrap})
        database_url = settings.database_url
        if not database_url:
            from fourfold.infra.postgres import EmbeddedPostgres

            postgres = await asyncio.to_thread(EmbeddedPostgres(settings.state_dir).start)
            database_url = postgres.url()
            log.info("started embedded postgres", extra={"url": database_url})
        yield Infrastructure(kafka_bootstrap_servers=bootstrap, database_url=database_url)
    finally:
        if postgres is not None:
            await asyncio.to_thread(postgres.stop)
        if broker is not None:
            await asyncio.to_thread(broker.stop)
