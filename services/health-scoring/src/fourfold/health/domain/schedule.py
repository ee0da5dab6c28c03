"""When a customer's result could next change by the passing of time alone.

A scheduler recomputes each customer at `next_time_change(...)`; between two such instants
(and with no new event) `score()` gives the same score, band and step. Recomputing earlier is
harmless, so the answer errs on the early side and never on the late one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.domain.signals import CustomerSignals, require_aware


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _instants(
    signals: CustomerSignals, scorecard: Scorecard, override: ManualOverride | None
) -> Iterator[datetime]:
    """Every instant at which some time-based rule flips for this customer."""
    components, rules = scorecard.components, scorecard.lifecycle
    if components.engagement is not None or signals.seats_bought in (None, 0):
        window = timedelta(days=components.engagement.window_days if components.engagement else 0)
        twice = 2 * window
        for day, _ in signals.active_users:
            # a day enters the recent window, moves to the prior one, then leaves
            entered = _midnight(day)
            yield from (entered, entered + window, entered + twice)
    yield from signals.milestones.values()
    start = signals.subscription_start
    if start is not None:
        yield start
        if components.implementation is not None:
            for due_day in components.implementation.expected_by_day.values():
                yield start + timedelta(days=due_day)
    if components.sentiment is not None and signals.sentiment is not None:
        yield signals.sentiment.at
        yield signals.sentiment.at + timedelta(days=components.sentiment.max_age_days)
    for expansion in signals.expansions:
        yield expansion.at
        yield expansion.at + timedelta(days=rules.recent_expansion_days)
    if signals.term_end is not None:
        yield signals.term_end - timedelta(days=rules.renewal_window_days)
        yield signals.term_end
    if signals.cancel_effective is not None:
        yield signals.cancel_effective
    if override is not None:
        yield override.set_at
        yield override.expires_at


def next_time_change(
    signals: CustomerSignals,
    scorecard: Scorecard,
    as_of: datetime,
    override: ManualOverride | None = None,
) -> datetime | None:
    """The earliest instant after `as_of` at which time alone may change the score, band or
    step; None when only a new event can (the trend still moves; refresh it as you like)."""
    require_aware(as_of, "as_of")
    later = [instant for instant in _instants(signals, scorecard, override) if instant > as_of]
    return min(later, default=None)
