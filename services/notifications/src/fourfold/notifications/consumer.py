"""The Kafka handler: fold a batch's events into each customer's snapshot and re-evaluate.

One batch is one transaction (opened by the shared BatchConsumer): lock the batch's known
customers in one SELECT, fold each customer's events in event-time order, save, evaluate
the rules and emit `nudge.raised` / `nudge.resolved` through the outbox. A replayed event
never reaches this handler (the inbox filtered it), and a duplicated `health.changed`
folds to the same snapshot, so it raises nothing twice.
"""

from __future__ import annotations

from collections import defaultdict

from fourfold.events import ACTIVITY_TOPIC, BILLING_TOPIC, HEALTH_TOPIC, Envelope
from fourfold.kafka.consumer import Batch, Handler
from fourfold.notifications import repository
from fourfold.notifications.domain.snapshot import Snapshot, fold_all
from fourfold.notifications.evaluation import Ruleset, reevaluate

INPUT_TOPICS = (HEALTH_TOPIC, BILLING_TOPIC, ACTIVITY_TOPIC)


def customer_of(event: Envelope) -> str | None:
    """The customer an event is about (partner-level events have none and are skipped)."""
    customer_id = getattr(event.data, "customer_id", None)
    return customer_id if isinstance(customer_id, str) else None


def build_handler(ruleset: Ruleset) -> Handler:
    """The batch handler for `ruleset` (loaded once, at start)."""

    async def handle(batch: Batch) -> None:
        by_customer: dict[str, list[Envelope]] = defaultdict(list)
        for event in batch.events:
            customer_id = customer_of(event)
            if customer_id is not None:
                by_customer[customer_id].append(event)
        if not by_customer:
            return
        stored = await repository.lock_snapshots(batch.session, by_customer)
        now = batch.clock.now()
        folded = [
            fold_all(stored.get(customer_id, Snapshot(customer_id)), events)
            for customer_id, events in by_customer.items()
        ]
        await repository.save_snapshots(batch.session, folded, ruleset.config, now)
        for event in await reevaluate(batch.session, folded, ruleset=ruleset, now=now):
            batch.emit(event)

    return handle
