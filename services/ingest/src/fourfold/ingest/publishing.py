"""Publish validated events through the one road, translating outages to 503s.

Shared by POST /v1/events and the webhook adapters, so every route answers a broker or
database outage the same way (503 with Retry-After) and a bug still surfaces as a 500.

Group commit: requests that arrive while a group is being published wait for the next
one, and each group is one claim statement, one producer flush and one commit
(`intake.accept_group`). No request is answered before its group's commit, which follows
the broker's ack of every record in it; an outage fails every request of the group, and
none of their events is remembered. Nothing waits to fill a group: a lone request goes
at once, and under load a group holds whatever arrived during the previous one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
from prometheus_client import Histogram
from sqlalchemy.exc import SQLAlchemyError

from fourfold.errors import Unavailable
from fourfold.ingest import intake
from fourfold.ingest.claims import is_connection_failure
from fourfold.ingest.runtime import IngestRuntime
from fourfold.ingest.schemas import EventResult
from fourfold.kafka.producer import BrokerUnavailable
from fourfold.kafka.transient import is_transient

log = logging.getLogger(__name__)

GROUP_MAX_EVENTS = 5_000
"""A group takes requests until it holds this many events (always at least one request)."""
GROUPS_IN_FLIGHT = 3
"""Groups published at once: one claims while another waits for the broker's ack."""
GROUP_REQUESTS = Histogram(
    "fourfold_ingest_group_requests",
    "Requests published together in one group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)


async def publish(
    rt: IngestRuntime, valid: list[intake.Valid], rejected: list[EventResult]
) -> intake.Outcome:
    """Publish in the runtime's next group; BrokerUnavailable/Unavailable on outage."""
    if rt.groups is None:
        rt.groups = GroupCommit(rt)
    return await rt.groups.submit(intake.Request(valid, rejected))


@dataclass(frozen=True, slots=True)
class _Waiting:
    request: intake.Request
    answer: asyncio.Future[intake.Outcome]


class GroupCommit:
    """Gathers concurrent requests into groups; publishes up to `in_flight` groups at once."""

    def __init__(
        self,
        rt: IngestRuntime,
        *,
        max_events: int = GROUP_MAX_EVENTS,
        in_flight: int = GROUPS_IN_FLIGHT,
    ) -> None:
        self._rt = rt
        self._max_events = max_events
        self._in_flight = in_flight
        self._queue: deque[_Waiting] = deque()
        self._running = 0  # publishers between their start and their last look at the queue
        self._publishers: set[asyncio.Task[None]] = set()  # strong references to them

    async def submit(self, request: intake.Request) -> intake.Outcome:
        answer: asyncio.Future[intake.Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(request, answer))
        if self._running < self._in_flight:
            self._running += 1
            # Its own context: a group's logs are not any one request's (no request id).
            publisher = asyncio.create_task(self._publish_queued(), context=contextvars.Context())
            self._publishers.add(publisher)
            publisher.add_done_callback(self._publishers.discard)
        return await answer  # a cancelled request is left out of a group not yet taken

    async def _publish_queued(self) -> None:
        try:
            while self._queue:
                group: list[_Waiting] = []
                events = 0
                while self._queue and (not group or events < self._max_events):
                    waiting = self._queue.popleft()
                    if not waiting.answer.done():  # not cancelled
                        group.append(waiting)
                        events += len(waiting.request.valid)
                if group:
                    GROUP_REQUESTS.observe(len(group))
                    await self._publish(group)
        finally:  # no await since the queue was seen empty: a new request starts a publisher
            self._running -= 1

    async def _publish(self, group: list[_Waiting]) -> None:
        try:
            outcomes = await _accept(self._rt, [waiting.request for waiting in group])
        except Exception as exc:
            for waiting in group:
                if not waiting.answer.done():
                    waiting.answer.set_exception(exc)
            return
        except BaseException as exc:  # cancelled (shutdown): nobody is told it was accepted
            for waiting in group:
                if not waiting.answer.done():
                    waiting.answer.cancel()
            raise exc
        for waiting, outcome in zip(group, outcomes, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(outcome)


async def _accept(rt: IngestRuntime, requests: list[intake.Request]) -> list[intake.Outcome]:
    """`intake.accept_group` on the runtime's producer, outages translated to 503s."""
    settings = rt.settings
    producer, generation = await rt.ready_producer()
    try:
        with database_outage_as_503(rt):
            return await intake.accept_group(
                requests, claims=rt.claims, producer=producer, clock=rt.clock
            )
    except BrokerUnavailable as exc:
        rt.broker_failed(generation)
        raise BrokerUnavailable(exc.detail, retry_after_seconds=settings.retry_after_s) from exc


@contextlib.contextmanager
def database_outage_as_503(rt: IngestRuntime) -> Iterator[None]:
    """A transient database failure in the block is a 503 the client retries (SQLAlchemy's,
    or asyncpg's own on the claim connections)."""
    try:
        yield
    except (SQLAlchemyError, OSError, asyncpg.PostgresError) as exc:
        if not (is_transient(exc) or is_connection_failure(exc)):
            raise  # a bug or a data error: a 500 the client should not retry blindly
        raise Unavailable(
            f"database unavailable: {type(exc).__name__}",
            retry_after_seconds=rt.settings.retry_after_s,
        ) from exc
