"""The one use case every writer shares: rescore customers at `now` and save the results.

The consumer calls it after folding a batch's events, the scheduler for customers whose time
windows moved, the override routes after an override changed. Five statements whatever the
number of customers: overrides, trend history, upsert current rows, insert history points
(plus the caller's own load). Returns the `health.changed` events to stage in the outbox.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.health import repository
from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.evaluation import TREND_LOOKBACK, Evaluation, Previous, evaluate
from fourfold.health.metrics import HEALTH_SCORES
from fourfold.health.state import CustomerState
from fourfold.kafka.outbox import EncodedEvent

YIELD_EVERY = 20
"""Customers scored between two returns to the event loop (~5 ms of CPU on this machine)."""


async def rescore(
    session: AsyncSession,
    customers: Mapping[str, tuple[CustomerState, Previous | None]],
    *,
    scorecard: Scorecard,
    now: datetime,
    cause: str,
    force_history: bool = False,
) -> list[Evaluation]:
    """Score every given customer at `now`, save current rows and history, return results."""
    if not customers:
        return []
    ids = list(customers)
    overrides = await repository.load_overrides(session, ids)
    history = await repository.load_trend_history(session, ids, now, now - TREND_LOOKBACK)
    evaluations = await evaluate_all(
        customers,
        scorecard=scorecard,
        now=now,
        history=history,
        overrides=overrides,
        cause=cause,
        force_history=force_history,
    )
    await repository.save_customers(session, [e.row for e in evaluations])
    await repository.add_history(session, [e.history for e in evaluations if e.history])
    # one increment per band, not per customer: a labelled child's lookup and lock each time
    for band, count in Counter(e.result.band.value for e in evaluations).items():
        HEALTH_SCORES.labels(band).inc(count)
    return evaluations


async def evaluate_all(
    customers: Mapping[str, tuple[CustomerState, Previous | None]],
    *,
    scorecard: Scorecard,
    now: datetime,
    history: Mapping[str, Sequence[tuple[datetime, int | None]]],
    overrides: Mapping[str, ManualOverride],
    cause: str,
    force_history: bool = False,
) -> list[Evaluation]:
    """`evaluate` each customer, handing the event loop back every `YIELD_EVERY` customers:
    a poll of 500 new customers is ~0.1 s of CPU, and the API's requests on the same loop
    (GET /v1/customers/{id}/health) would otherwise wait for all of it."""
    evaluations = []
    for n, (customer_id, (state, previous)) in enumerate(customers.items(), 1):
        evaluations.append(
            evaluate(
                state,
                previous=previous,
                scorecard=scorecard,
                now=now,
                history=history.get(customer_id, ()),
                override=overrides.get(customer_id),
                cause=cause,
                force_history=force_history,
            )
        )
        if n % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return evaluations


def changed_events(evaluations: list[Evaluation]) -> list[EncodedEvent]:
    """The `health.changed` events of the evaluations whose score, band or step moved."""
    return [e.event for e in evaluations if e.event is not None]
