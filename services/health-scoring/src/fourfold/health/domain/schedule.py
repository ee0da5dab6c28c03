"""When a customer's result could next change by the passing of time alone.

A scheduler recomputes each customer at `next_time_change(...)`; between two such instants
(and with no new event) `score()` gives the same score, band and step. Recomputing earlier is
harmless, so the answer errs on the early side and never on the late one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.domain.signals import CustomerSignals, require_aware, utc_day


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def next_time_change(
    signals: CustomerSignals,
    scorecard: Scorecard,
    as_of: datetime,
    override: ManualOverride | None = None,
) -> datetime | None:
    """The earliest instant after `as_of` at which time alone may change the score, band or
    step; None when only a new event can (the trend still moves; refresh it as you like).

    The instants: each active-user day entering the recent window, moving to the prior one
    and leaving it; milestones; the subscription's start and each milestone falling due; the
    sentiment answer and its going stale; each expansion and its no longer being recent; the
    renewal window opening and the term ending; a cancellation taking effect; an override
    set and expiring. Of the usage days only the first after each of the three thresholds
    can be earliest, so the series is scanned once without building an instant per day
    (it runs at every rescore; tests/unit/test_properties.py checks it against the list)."""
    require_aware(as_of, "as_of")
    components, rules = scorecard.components, scorecard.lifecycle
    later: list[datetime] = []
    engagement = components.engagement
    if signals.active_users and (engagement is not None or signals.seats_bought in (None, 0)):
        window = engagement.window_days if engagement is not None else 0
        # midnight(day) + k days > as_of  <=>  day > (UTC day of as_of) - k days
        today = utc_day(as_of)
        entering, moving, leaving = today, today - timedelta(window), today - timedelta(2 * window)
        first_entering = first_moving = first_leaving = None
        for day, _ in signals.active_users:
            if day > leaving and (first_leaving is None or day < first_leaving):
                first_leaving = day
            if day > moving and (first_moving is None or day < first_moving):
                first_moving = day
            if day > entering and (first_entering is None or day < first_entering):
                first_entering = day
        if first_entering is not None:
            later.append(_midnight(first_entering))
        if first_moving is not None:
            later.append(_midnight(first_moving) + timedelta(window))
        if first_leaving is not None:
            later.append(_midnight(first_leaving) + timedelta(2 * window))
    candidates: list[datetime] = [*signals.milestones.values()]
    start = signals.subscription_start
    if start is not None:
        candidates.append(start)
        if components.implementation is not None:
            candidates += [
                start + timedelta(days=due_day)
                for due_day in components.implementation.expected_by_day.values()
            ]
    if components.sentiment is not None and signals.sentiment is not None:
        at = signals.sentiment.at
        candidates += (at, at + timedelta(days=components.sentiment.max_age_days))
    if signals.expansions:
        recent = timedelta(days=rules.recent_expansion_days)
        for expansion in signals.expansions:
            candidates += (expansion.at, expansion.at + recent)
    if signals.term_end is not None:
        end = signals.term_end
        candidates += (end - timedelta(days=rules.renewal_window_days), end)
    if signals.cancel_effective is not None:
        candidates.append(signals.cancel_effective)
    if override is not None:
        candidates += (override.set_at, override.expires_at)
    later += [instant for instant in candidates if instant > as_of]
    return min(later, default=None)
