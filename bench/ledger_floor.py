"""(a4) for the incentives benchmark: the writes the ledger must make, with no rules.

Issue #9 asks the incentives service to reach half of (a3), the delivery floor around one
bare upsert per customer. By its own specification the service writes more than that for
every event before any rule runs: it keeps the lifecycle event in its own schema (so that
recalculation and what-if never re-read Kafka), locks the customer (so two replicas cannot
race on a cap), appends an entry with its identity, and announces the entry through the
outbox, which the relay then publishes and deletes. This floor does exactly those writes,
with the service's own statements and tables (its migrations, `repository.store_events`,
`repository.insert_entries`, `ledger.announce`, the shared outbox and relay), in offsets
mode as the service runs, and nothing else: no history read, no walk, no caps. One entry
per kept event that is not a health change (the bench's stream earns about as many).

What it tells: how much of (a3) the required writes alone leave, i.e. the ceiling for (b)
on this machine whatever the rules cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from decimal import Decimal

from harness import FloorPace, service_gc

from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.events import Envelope, HealthChanged
from fourfold.incentives import ledger, repository
from fourfold.incentives.app import MIGRATIONS_DIR
from fourfold.incentives.domain.entries import Entry, entry_id_for, period_of
from fourfold.incentives.domain.state import customer_of_event
from fourfold.incentives.models import consumer_offsets, inbox, outbox
from fourfold.kafka.consumer import Batch, BatchConsumer
from fourfold.kafka.outbox import OutboxRelay
from fourfold.kafka.producer import EventProducer

ONE = Decimal("1.00")


def floor_entry(event: Envelope) -> Entry | None:
    """One fixed entry for an event that names a customer and a partner (no rule)."""
    customer, partner = customer_of_event(event), getattr(event.data, "partner_id", None)
    if customer is None or partner is None or isinstance(event, HealthChanged):
        return None
    partner = str(partner)
    return Entry(
        entry_id=entry_id_for(source_event_id=event.id, rule="floor", partner_id=partner),
        partner_id=partner,
        customer_id=customer,
        rule="floor",
        kind="accrual",
        amount=ONE,
        currency="USD",
        event_time=event.time,
        payable_at=event.time,
        source_event_id=event.id,
        program_id="floor",
        program_version="floor",
    )


async def ledger_floor(
    bootstrap: str, database_url: str, topics: list[str], total: int, max_records: int
) -> tuple[int, float, float, int]:
    """Consume `total` records; return (events, seconds, CPU seconds, entries written).

    Timed as `delivery_floor`: from the end of the first poll's handler to the last one's.
    """
    with service_gc():
        return await _ledger_floor(bootstrap, database_url, topics, total, max_records)


async def _ledger_floor(
    bootstrap: str, database_url: str, topics: list[str], total: int, max_records: int
) -> tuple[int, float, float, int]:
    schema = f"ledger_floor_{uuid.uuid4().hex[:6]}"
    await upgrade(url=database_url, schema=schema, migrations_dir=MIGRATIONS_DIR)
    engine = create_engine(database_url, schema=schema)
    sessions = session_factory(engine)
    pace = FloorPace(total)
    written = 0
    done = asyncio.Event()

    async def handle(batch: Batch) -> None:
        nonlocal written
        kept = [e for e in batch.events if ledger.kept(e)]
        customers = sorted({c for e in kept if (c := customer_of_event(e)) is not None})
        await repository.store_events(
            batch.session, kept, locks=[repository.customer_lock(c) for c in customers]
        )
        entries = [entry for e in kept if (entry := floor_entry(e)) is not None]
        periods = [period_of(entry.event_time) for entry in entries]
        appended = await repository.insert_entries(batch.session, entries, periods)
        now = batch.clock.now()
        for entry, period in zip(entries, periods, strict=True):
            if entry.entry_id in appended:
                batch.emit(ledger.announce(entry, period, now))
        written += len(appended)
        if pace.handled(len(batch.events)):
            done.set()

    producer = EventProducer(bootstrap, client_id="bench-ledger-floor")
    relay = OutboxRelay(
        sessions=sessions, outbox=outbox, producer=producer, service="bench-ledger-floor"
    )
    consumer = BatchConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"bench-ledger-floor-{uuid.uuid4().hex[:6]}",
        topics=topics,
        sessions=sessions,
        inbox=inbox,
        outbox=outbox,
        producer=producer,
        handler=handle,
        service="bench-ledger-floor",
        max_records=max_records,
        offsets=consumer_offsets,
        on_committed=relay.notify,
    )
    await producer.start()
    await consumer.start()
    relaying = asyncio.create_task(relay.run())
    running = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(done.wait(), 600)
    finally:
        consumer.stop()
        await running
        relay.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await relaying
        await producer.stop()
        await engine.dispose()
    return (*pace.result(), written)
