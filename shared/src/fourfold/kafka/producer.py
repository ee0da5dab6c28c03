"""The producer every service shares: acks=all, batching tuned, no idempotence needed.

Duplicates after a retry are expected and harmless: every consumer dedupes by event id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from fourfold.errors import Unavailable


class BrokerUnavailable(Unavailable):
    """The broker did not acknowledge in time; nothing may be reported as accepted."""

    code = "broker_unavailable"


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class EventProducer:
    """Sends records and returns only when the broker acknowledged every one of them."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "fourfold",
        linger_ms: int = 2,
        max_batch_size: int = 512 * 1024,
        request_timeout_ms: int = 8_000,
        send_timeout_s: float = 10.0,
    ) -> None:
        self._config: dict[str, Any] = dict(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=False,
            linger_ms=linger_ms,
            max_batch_size=max_batch_size,
            max_request_size=4 * 1024 * 1024,
            request_timeout_ms=request_timeout_ms,
            retry_backoff_ms=100,
        )
        self._producer = AIOKafkaProducer(**self._config)
        self._send_timeout_s = send_timeout_s
        self._started = False

    async def start(self) -> None:
        try:
            await self._producer.start()
        except KafkaError as exc:
            await self._producer.stop()
            raise BrokerUnavailable(f"broker unreachable: {exc}") from exc
        self._started = True

    async def ensure_started(self) -> None:
        """Start now if the broker was unreachable when the process came up."""
        if not self._started:
            self._producer = AIOKafkaProducer(**self._config)
            await self.start()

    async def restart(self) -> None:
        """Drop the client and its stale metadata after an outage, then connect afresh."""
        await self.stop()
        await self.ensure_started()

    async def stop(self) -> None:
        if self._started:
            await self._producer.stop()
            self._started = False

    async def send_all(self, records: Sequence[OutgoingRecord]) -> None:
        """Send every record; raise BrokerUnavailable unless all were acknowledged."""
        if not records:
            return
        futures: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(self._send_timeout_s):
                for record in records:
                    futures.append(
                        await self._producer.send(
                            record.topic, record.value, key=record.key, headers=record.headers
                        )
                    )
                for future in futures:  # cheaper than gather: most are done together
                    await future
        except (KafkaError, TimeoutError) as exc:
            for future in futures:  # we answer for all of them: their errors are seen
                future.add_done_callback(_consume_outcome)
            raise BrokerUnavailable(f"broker did not acknowledge: {exc!r}") from exc


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
