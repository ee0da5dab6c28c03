"""(a4) for the health benchmark: the reads and writes health-scoring must make, no scoring.

Issue #13 asks health-scoring (b) to reach half of (a3o), the delivery floor around one bare
upsert per customer. By its own specification the service does more I/O than that for every
poll before any fold or score: it locks each customer of the poll and reads its stored state
(a fold needs it), reads the customers' overrides and the trend's history points (the score
needs them), replaces each customer's row with its state and explanation documents, appends
a history point, and announces the change as `health.changed` through the outbox, which the
relay then publishes and deletes. This floor makes exactly those statements, with the
service's own repository, tables and migrations, in offsets mode as the service runs, and
nothing else: no fold, no score. The documents it writes are the ones one real evaluation
(the first customer of the first poll, folded and scored once) produced, so they have the
service's sizes; every customer gets a copy under its own id, one history point and one
`health.changed` per poll, as in (b)'s stream, where every rescored customer's score moves.

What it tells: how much of (a3o) the required I/O alone leaves, i.e. the ceiling for (b) on
this machine whatever folding and scoring cost.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import orjson
from relayed_floor import relayed_floor

from fourfold.events import HEALTH_TOPIC, Envelope
from fourfold.health import repository
from fourfold.health.app import MIGRATIONS_DIR
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.evaluation import SOURCE, TREND_LOOKBACK, Evaluation, evaluate
from fourfold.health.folding import customer_of, fold_events
from fourfold.health.models import consumer_offsets, inbox, outbox
from fourfold.health.state import CustomerState
from fourfold.kafka.consumer import Batch
from fourfold.kafka.outbox import EncodedEvent, encode_event


class Template:
    """One real evaluation's row, history point and event data, copied for every customer."""

    def __init__(self, evaluation: Evaluation, data: dict[str, Any]) -> None:
        if evaluation.history is None:
            raise ValueError("a first evaluation always records a history point")
        self.row, self.point, self.data = evaluation.row, evaluation.history, data

    @classmethod
    def first(
        cls, customer_id: str, events: list[Envelope], scorecard: Scorecard, now: datetime
    ) -> Template:
        state = fold_events(CustomerState.new(customer_id), events)
        evaluation = evaluate(state, previous=None, scorecard=scorecard, now=now, cause="event")
        if evaluation.event is None:
            raise ValueError("a first evaluation always publishes")
        return cls(evaluation, orjson.loads(evaluation.event.payload)["data"])

    def row_for(self, customer_id: str, now: datetime) -> dict[str, Any]:
        return {**self.row, "customer_id": customer_id, "scored_at": now, "history_at": now}

    def point_for(self, customer_id: str, now: datetime) -> dict[str, Any]:
        return {**self.point, "customer_id": customer_id, "at": now}

    def event_for(self, customer_id: str, now: datetime) -> EncodedEvent:
        return encode_event(
            HEALTH_TOPIC,
            customer_id,
            event_id=f"floor-{customer_id}-{uuid.uuid4().hex}",
            source=SOURCE,
            event_type="health.changed",
            time=now,
            data={**self.data, "customer_id": customer_id},
        )


async def score_floor(
    bootstrap: str,
    database_url: str,
    topics: list[str],
    total: int,
    max_records: int,
    scorecard: Scorecard,
) -> tuple[int, float, float]:
    """Consume `total` records; return (events, seconds, CPU seconds)."""
    template: Template | None = None

    async def handle(batch: Batch) -> None:
        nonlocal template
        by_customer: dict[str, list[Envelope]] = defaultdict(list)
        for event in batch.events:
            if (customer_id := customer_of(event)) is not None:
                by_customer[customer_id].append(event)
        if not by_customer:
            return
        now, ids = batch.clock.now(), list(by_customer)
        await repository.lock_customers(batch.session, ids)
        await repository.load_overrides(batch.session, ids)
        await repository.load_trend_history(batch.session, ids, now, now - TREND_LOOKBACK)
        if template is None:
            template = Template.first(ids[0], by_customer[ids[0]], scorecard, now)
        await repository.save_customers(batch.session, [template.row_for(c, now) for c in ids])
        await repository.add_history(batch.session, [template.point_for(c, now) for c in ids])
        for customer_id in ids:
            batch.emit(template.event_for(customer_id, now))

    return await relayed_floor(
        handle,
        name="bench-score-floor",
        bootstrap=bootstrap,
        database_url=database_url,
        migrations_dir=MIGRATIONS_DIR,
        tables=(inbox, outbox, consumer_offsets),
        topics=topics,
        total=total,
        max_records=max_records,
    )
