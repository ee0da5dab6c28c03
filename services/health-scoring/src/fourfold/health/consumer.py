"""The Kafka handler: fold a batch's events into each customer's state and rescore.

One batch is one transaction (opened by the shared BatchConsumer): lock the batch's known
customers in one SELECT, fold each customer's events in event-time order, rescore, upsert,
and emit `health.changed` through the outbox.

The consumer runs in offsets mode (docs/runtime.md): a record delivered again is skipped by
its offset, but an event id that reaches the broker twice (a producer's retry) is handed to
this handler twice. Every fold is idempotent, so the second copy leaves the state equal to
the stored one; such a customer is not rescored either (a rescore at a new time would write
a new `scored_at` and maybe a history point): the duplicate has no effect at all. Time
moving a score is the scheduler's job, not an event's.
"""

from __future__ import annotations

from collections import defaultdict

from fourfold.events import ACTIVITY_TOPIC, BILLING_TOPIC, USAGE_TOPIC, Envelope
from fourfold.health import repository
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.evaluation import Previous
from fourfold.health.folding import customer_of, fold_events
from fourfold.health.rescoring import changed_events, rescore
from fourfold.health.state import CustomerState
from fourfold.kafka.consumer import Batch, Handler

INPUT_TOPICS = (BILLING_TOPIC, USAGE_TOPIC, ACTIVITY_TOPIC)


def build_handler(scorecard: Scorecard) -> Handler:
    """The batch handler for `scorecard` (the scorecard is loaded once, at start)."""

    async def handle(batch: Batch) -> None:
        by_customer: dict[str, list[Envelope]] = defaultdict(list)
        for event in batch.events:
            customer_id = customer_of(event)
            if customer_id is not None:
                by_customer[customer_id].append(event)
        if not by_customer:
            return
        stored = await repository.lock_customers(batch.session, by_customer)
        folded: dict[str, tuple[CustomerState, Previous | None]] = {}
        for customer_id, events in by_customer.items():
            known = stored.get(customer_id)
            if known is None:
                folded[customer_id] = (fold_events(CustomerState.new(customer_id), events), None)
                continue
            state, previous = known
            after = fold_events(state, events)
            if after != state:
                folded[customer_id] = (after, previous)
        evaluations = await rescore(
            batch.session, folded, scorecard=scorecard, now=batch.clock.now(), cause="event"
        )
        for changed in changed_events(evaluations):
            batch.emit(changed)

    return handle
