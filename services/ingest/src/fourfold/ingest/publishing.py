"""Publish validated events through the one road, translating outages to 503s.

Shared by POST /v1/events and the webhook adapters, so every route answers a broker or
database outage the same way (503 with Retry-After) and a bug still surfaces as a 500.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.exc import SQLAlchemyError

from fourfold.errors import Unavailable
from fourfold.ingest import intake
from fourfold.ingest.runtime import IngestRuntime
from fourfold.ingest.schemas import EventResult
from fourfold.kafka.producer import BrokerUnavailable
from fourfold.kafka.transient import is_transient


async def publish(
    rt: IngestRuntime, valid: list[intake.Valid], rejected: list[EventResult]
) -> intake.Outcome:
    """`intake.accept` on the runtime's producer; BrokerUnavailable/Unavailable on outage."""
    settings = rt.settings
    producer, generation = await rt.ready_producer()
    try:
        with database_outage_as_503(rt):
            return await intake.accept(
                valid, rejected, sessions=rt.sessions, producer=producer, clock=rt.clock
            )
    except BrokerUnavailable as exc:
        rt.broker_failed(generation)
        raise BrokerUnavailable(exc.detail, retry_after_seconds=settings.retry_after_s) from exc


@contextlib.contextmanager
def database_outage_as_503(rt: IngestRuntime) -> Iterator[None]:
    """A transient database failure in the block is a 503 the client retries."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        if not is_transient(exc):
            raise  # a bug or a data error: a 500 the client should not retry blindly
        raise Unavailable(
            f"database unavailable: {type(exc).__name__}",
            retry_after_seconds=rt.settings.retry_after_s,
        ) from exc
