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

from decimal import Decimal

from relayed_floor import relayed_floor

from fourfold.events import Envelope, HealthChanged
from fourfold.incentives import ledger, repository
from fourfold.incentives.app import MIGRATIONS_DIR
from fourfold.incentives.domain.entries import Entry, entry_id_for, period_of
from fourfold.incentives.domain.state import customer_of_event
from fourfold.incentives.models import consumer_offsets, inbox, outbox
from fourfold.kafka.consumer import Batch

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
    """Consume `total` records; return (events, seconds, CPU seconds, entries written)."""
    written = 0

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

    measured = await relayed_floor(
        handle,
        name="bench-ledger-floor",
        bootstrap=bootstrap,
        database_url=database_url,
        migrations_dir=MIGRATIONS_DIR,
        tables=(inbox, outbox, consumer_offsets),
        topics=topics,
        total=total,
        max_records=max_records,
    )
    return (*measured, written)
