"""What the ingest process holds while it runs, created in the lifespan, handed to routes."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fourfold.clock import Clock
from fourfold.events.registry import INPUT_TOPICS
from fourfold.ingest.settings import IngestSettings
from fourfold.kafka.producer import BrokerUnavailable, EventProducer
from fourfold.kafka.topics import ensure_topics, with_dead_letters

log = logging.getLogger(__name__)


@dataclass
class IngestRuntime:
    settings: IngestSettings
    clock: Clock
    bootstrap_servers: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    producer: EventProducer
    topics_ready: bool = False
    producer_stale: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def ready_producer(self) -> EventProducer:
        """The producer, once topics exist; after an outage, recreate them first.

        The embedded broker forgets its topics when it restarts, so a publish failure marks
        them unknown and the next request ensures them again before sending.
        """
        if self.topics_ready:
            return self.producer
        async with self._lock:
            if not self.topics_ready:
                try:
                    if self.producer_stale:
                        await self.producer.restart()
                        self.producer_stale = False
                    else:
                        await self.producer.ensure_started()
                    await ensure_topics(
                        self.bootstrap_servers,
                        with_dead_letters(INPUT_TOPICS),
                        partitions=self.settings.topic_partitions,
                        replication_factor=self.settings.topic_replication_factor,
                    )
                except BrokerUnavailable as exc:
                    raise BrokerUnavailable(
                        exc.detail, retry_after_seconds=self.settings.retry_after_s
                    ) from exc
                except Exception as exc:
                    raise BrokerUnavailable(
                        f"broker unreachable: {type(exc).__name__}",
                        retry_after_seconds=self.settings.retry_after_s,
                    ) from exc
                self.topics_ready = True
        return self.producer

    def broker_failed(self) -> None:
        """Forget topics and the producer's connection: both may be gone with the broker."""
        self.topics_ready = False
        self.producer_stale = True
