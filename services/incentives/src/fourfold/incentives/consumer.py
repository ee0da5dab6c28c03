"""The Kafka handler: keep the lifecycle events of a batch and accrue what they earn.

One batch is one transaction (opened by the shared BatchConsumer): the ledger use case
stores the events, locks the customers (and each partner-period whose cap is in play),
walks the rules and appends the entries; the announcements go to the outbox with them. The
consumer runs in offsets mode (no inbox row per event: each partition's next offset is
stored in the batch's transaction), as the handler is idempotent by key: an event already
kept (its (source, id) is the events table's key) earns nothing again, and an entry produced
twice is refused by its unique identity, so a re-sent event id has one effect.
"""

from __future__ import annotations

from fourfold.events import ACTIVITY_TOPIC, BILLING_TOPIC, HEALTH_TOPIC
from fourfold.incentives.ledger import accrue_events
from fourfold.incentives.programs import Programs
from fourfold.kafka.consumer import Batch, Handler

INPUT_TOPICS = (BILLING_TOPIC, HEALTH_TOPIC, ACTIVITY_TOPIC)


def build_handler(programs: Programs) -> Handler:
    """The batch handler, reading the activated program versions at each batch."""

    async def handle(batch: Batch) -> None:
        active = await programs.current(batch.session)
        _, announcements = await accrue_events(
            batch.session, batch.events, programs=active, now=batch.clock.now()
        )
        for event in announcements:
            batch.emit(event)

    return handle
