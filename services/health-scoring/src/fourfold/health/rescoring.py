"""The one use case every writer shares: rescore customers at `now` and save the results.

The consumer calls it after folding a batch's events, the scheduler for customers whose time
windows moved, the override routes after an override changed. Five statements whatever the
number of customers: overrides, trend history, upsert current rows, insert history points
(plus the caller's own load). Returns the `health.changed` events to stage in the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.events import HealthChanged
from fourfold.health import repository
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.evaluation import TREND_LOOKBACK, Evaluation, Previous, evaluate
from fourfold.health.metrics import HEALTH_SCORES
from fourfold.health.state import CustomerState


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
    evaluations = [
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
        for customer_id, (state, previous) in customers.items()
    ]
    await repository.save_customers(session, [e.row for e in evaluations])
    await repository.add_history(session, [e.history for e in evaluations if e.history])
    for evaluation in evaluations:
        HEALTH_SCORES.labels(evaluation.result.band.value).inc()
    return evaluations


def changed_events(evaluations: list[Evaluation]) -> list[HealthChanged]:
    """The `health.changed` events of the evaluations whose score, band or step moved."""
    return [e.event for e in evaluations if e.event is not None]
