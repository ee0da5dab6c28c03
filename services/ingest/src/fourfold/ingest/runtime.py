"""What the ingest process holds while it runs, created in the lifespan, handed to routes."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fourfold.clock import Clock
from fourfold.events.registry import INPUT_TOPICS
from fourfold.ingest.claims import ClaimConnections
from fourfold.ingest.settings import IngestSettings
from fourfold.kafka.producer import BrokerUnavailable, EventProducer
from fourfold.kafka.topics import ensure_topics, with_dead_letters

if TYPE_CHECKING:
    from fourfold.ingest.publishing import GroupCommit

log = logging.getLogger(__name__)


@dataclass
class IngestRuntime:
    settings: IngestSettings
    clock: Clock
    bootstrap_servers: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    claims: ClaimConnections  # the group claims' own connections (POST's hot path)
    producer: EventProducer
    topics_ready: bool = False
    producer_stale: bool = False
    generation: int = 0  # bumped on each reconnect, so a late failure cannot undo a newer one
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    groups: GroupCommit | None = None  # the publishing road's group commit, made on first use

    async def ready_producer(self) -> tuple[EventProducer, int]:
        """The producer and its generation, once topics exist; after an outage, reconnect.

        The embedded broker forgets its topics when it restarts, so a publish failure marks
        them unknown and the next request ensures them again before sending.
        """
        if self.topics_ready:
            return self.producer, self.generation
        async with self._lock:
            if not self.topics_ready:
                try:
                    if self.producer_stale:
                        await self.producer.restart()
                        self.producer_stale = False
                        self.generation += 1
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
        return self.producer, self.generation

    def broker_failed(self, generation: int) -> None:
        """Forget topics and the producer's connection: both may be gone with the broker.

        Only a failure on the current producer counts: a request that started before the
        last reconnect must not mark the fresh producer stale.
        """
        if generation == self.generation:
            self.topics_ready = False
            self.producer_stale = True
