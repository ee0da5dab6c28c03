"""Transactional outbox: events are rows written with the state change, published after commit.

An event is staged either as a model (`Envelope`, serialised here) or already encoded
(`EncodedEvent`: a producer on a hot path that builds its JSON bytes directly, and proves in
its tests that those bytes validate against the published contract).

The relay takes the oldest rows with `FOR UPDATE SKIP LOCKED`, sends them with acks=all and
deletes them in the same transaction. A crash between send and delete re-sends them; the
consumers' inboxes make that harmless.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import BigInteger, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fourfold.db.bulk import UnnestInsert, any_of
from fourfold.events.envelope import Envelope
from fourfold.kafka.producer import EventProducer, OutgoingRecord
from fourfold.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)

CONTENT_TYPE = ("content-type", b"application/cloudevents+json")


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """An event as its structured-mode JSON bytes, with what the outbox row needs besides."""

    topic: str
    key: str
    type: str
    payload: bytes


Staged = Envelope | EncodedEvent


def encode_event(
    topic: str,
    key: str,
    *,
    event_id: str,
    source: str,
    event_type: str,
    time: datetime,
    data: dict[str, Any],
    default: Any = None,
) -> EncodedEvent:
    """A structured-mode CloudEvent as its JSON bytes, encoded once by orjson with no
    pydantic model built: for a hot path whose `data` is typed by the domain already. Its
    caller's tests prove the bytes validate against the published contract. `default`
    encodes what orjson does not (orjson's own argument)."""
    payload = orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": source,
            "type": event_type,
            "time": time,
            "data": data,
        },
        default=default,
        option=orjson.OPT_UTC_Z,  # "Z", as pydantic writes UTC
    )
    return EncodedEvent(topic, key, event_type, payload)


@functools.cache
def _staging(outbox: Table) -> UnnestInsert:
    return UnnestInsert(outbox, columns=("topic", "key", "payload", "headers"))


async def stage(session: AsyncSession, outbox: Table, events: Sequence[Staged]) -> None:
    """Write events into the outbox inside the caller's transaction."""
    await _staging(outbox).execute(
        session,
        [
            {
                "topic": event.topic,
                "key": event.key,
                "payload": event.payload
                if isinstance(event, EncodedEvent)
                else event.to_json_bytes(),
                "headers": {"ce_type": event.type},
            }
            for event in events
        ],
    )


class OutboxRelay:
    """Publishes the outbox in id order; wake it with `notify()` after a commit."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        producer: EventProducer,
        service: str,
        batch_size: int = 500,
        idle_interval_s: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._producer = producer
        self._service = service
        self._batch_size = batch_size
        self._idle_interval_s = idle_interval_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    def notify(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def publish_once(self) -> int:
        """Publish up to one batch; return how many rows went out."""
        table = self._outbox
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(table.c.id, table.c.topic, table.c.key, table.c.payload, table.c.headers)
                    .order_by(table.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                OUTBOX_PENDING.labels(self._service).set(0)
                return 0
            await self._producer.send_all(
                [
                    OutgoingRecord(
                        topic=row.topic,
                        key=row.key.encode(),
                        value=row.payload,
                        headers=[CONTENT_TYPE]
                        + [(name, str(value).encode()) for name, value in row.headers.items()],
                    )
                    for row in rows
                ]
            )
            ids = [row.id for row in rows]
            await session.execute(delete(table).where(table.c.id == any_of(ids, BigInteger())))
        OUTBOX_PUBLISHED.labels(self._service).inc(len(rows))
        return len(rows)

    async def pending(self) -> int:
        async with self._sessions() as session:
            count = await session.scalar(select(func.count()).select_from(self._outbox))
        OUTBOX_PENDING.labels(self._service).set(count or 0)
        return int(count or 0)

    async def run(self) -> None:
        """Loop until stopped: drain, then sleep until notified or the idle interval passes."""
        while not self._stopping.is_set():
            try:
                published = await self.publish_once()
                if published >= self._batch_size:
                    continue
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self._idle_interval_s)
                except TimeoutError:
                    await self.pending()
            except Exception:
                # Never die: the database or broker being away must not stop publishing
                # for good. Rows stay in the outbox until a later attempt sends them.
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1)
