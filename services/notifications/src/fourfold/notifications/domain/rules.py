"""The five rules: each a pure function of a customer's snapshot, its settings and `now`.

A rule answers `Fired(facts)` when its condition holds, else None. The facts are what the
nudge shows and what its template renders; they are plain JSON values. Thresholds are
inclusive where the issue says "at least" and "within", exclusive where it says "below".

No fact counts days: a fact that changed every midnight would make every firing snapshot
due every midnight (and rewrite its nudge) for a number only the text shows. The facts
hold the dates instead (`started_on`, `at_or_above_since`, `term_end`), and `day_counts`
works the counts out from them at the instant a text is rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fourfold.events.derived import MAX_LISTED
from fourfold.notifications.domain.config import (
    HealthDrop,
    ImplementStalled,
    IncreaseOpportunity,
    PaymentFailed,
    RenewalAtRisk,
    RuleConfig,
    RuleName,
)
from fourfold.notifications.domain.snapshot import Snapshot, epoch

Facts = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Fired:
    """The condition holds; `facts` say why."""

    facts: Facts


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def implement_stalled(s: Snapshot, rule: ImplementStalled, now: datetime) -> Fired | None:
    """At least N days since the subscription started, and activation below the threshold
    or a core milestone missing."""
    if s.subscription_start is None or s.cancelled:
        return None
    age = now - _midnight(s.subscription_start)
    if age < timedelta(days=rule.min_age_days):
        return None
    activation = s.activation
    missing = [m for m in rule.core_milestones if m not in s.milestones]
    if activation >= rule.activation_below and not missing:
        return None
    return Fired(
        {
            "started_on": s.subscription_start.isoformat(),
            "activation": round(activation, 4),
            "activation_below": rule.activation_below,
            "missing_milestones": missing,
        }
    )


def _at_or_above_since(s: Snapshot, threshold: float) -> float | None:
    """Since when (epoch seconds) utilisation has stayed at or above `threshold` (None: it is
    below now)."""
    since = None
    for at, value in reversed(s.utilisations):
        if value < threshold:
            break
        since = at
    return since


def increase_opportunity(s: Snapshot, rule: IncreaseOpportunity, now: datetime) -> Fired | None:
    """Utilisation at or above the threshold for N days, and no expansion in the last M days."""
    if s.cancelled or s.utilisation is None or s.utilisation < rule.utilisation_at_least:
        return None
    since = _at_or_above_since(s, rule.utilisation_at_least)
    if since is None or since > epoch(now - timedelta(days=rule.for_days)):
        return None
    if s.last_expansion_at is not None and now - s.last_expansion_at < timedelta(
        days=rule.no_expansion_days
    ):
        return None
    return Fired(
        {
            "utilisation": round(s.utilisation, 4),
            "utilisation_at_least": rule.utilisation_at_least,
            "at_or_above_since": datetime.fromtimestamp(since, UTC).isoformat(),
            "seats": s.seats,
        }
    )


def renewal_at_risk(s: Snapshot, rule: RenewalAtRisk, now: datetime) -> Fired | None:
    """The term ends within N days (and has not ended) while the band is one of the bands."""
    if s.term_end is None or s.cancelled or s.band is None:
        return None
    if s.band not in rule.bands:  # StrEnum members equal their values
        return None
    left = _midnight(s.term_end) - now
    if left <= timedelta(0) or left > timedelta(days=rule.within_days):
        return None
    return Fired(
        {
            "term_end": s.term_end.isoformat(),
            "band": s.band,
            "score": s.score,
        }
    )


def health_drop(s: Snapshot, rule: HealthDrop, now: datetime) -> Fired | None:
    """The score fell by at least N points from its high within the last D days (the score
    in force at the window's start counts)."""
    if s.score is None or not s.scores:
        return None
    start, end = epoch(now - timedelta(days=rule.within_days)), epoch(now)
    high: int | None = None
    for at, value in s.scores:  # time order: the last point before the window comes first
        if at > end:
            break
        if at < start or high is None or value > high:
            high = value  # before the window only the latest counts (it held at its start)
    if high is None:
        return None
    drop = high - s.score
    if drop < rule.points:
        return None
    return Fired(
        {"score": s.score, "previous_high": high, "drop": drop, "within_days": rule.within_days}
    )


def payment_failed(s: Snapshot, rule: PaymentFailed, now: datetime) -> Fired | None:
    """An invoice failed and has not been paid since (the first `MAX_LISTED` ids are listed,
    `failed_count` counts them all)."""
    unpaid = s.unpaid_invoices
    if not unpaid:
        return None
    return Fired({"invoices": list(unpaid[:MAX_LISTED]), "failed_count": len(unpaid)})


_RULES: dict[RuleName, Callable[[Snapshot, Any, datetime], Fired | None]] = {
    RuleName.IMPLEMENT_STALLED: implement_stalled,
    RuleName.INCREASE_OPPORTUNITY: increase_opportunity,
    RuleName.RENEWAL_AT_RISK: renewal_at_risk,
    RuleName.HEALTH_DROP: health_drop,
    RuleName.PAYMENT_FAILED: payment_failed,
}


def day_counts(rule: RuleName, facts: Facts, now: datetime) -> dict[str, int]:
    """The day counts a rule's texts show, worked out at `now` from the dates in its facts
    (`days_since_start`, `days_at_or_above`, `days_to_term_end`). Facts stored before they
    held dates (which held the counts themselves) give nothing to work out, and keep theirs."""
    try:
        if rule is RuleName.IMPLEMENT_STALLED and "started_on" in facts:
            start = _midnight(date.fromisoformat(facts["started_on"]))
            return {"days_since_start": (now - start).days}
        if rule is RuleName.INCREASE_OPPORTUNITY and "at_or_above_since" in facts:
            since = datetime.fromisoformat(facts["at_or_above_since"])
            return {"days_at_or_above": (now - since).days}
        if rule is RuleName.RENEWAL_AT_RISK and "term_end" in facts:
            end = _midnight(date.fromisoformat(facts["term_end"]))
            return {"days_to_term_end": max(0, (end - now).days)}
    except (TypeError, ValueError):  # not a date: nothing to count from
        pass
    return {}


_PLANS: dict[int, tuple[RuleConfig, list[tuple[RuleName, Any, Any]]]] = {}


def _plan(config: RuleConfig) -> list[tuple[RuleName, Any, Any]]:
    """(rule, function, its settings) of the enabled rules, worked out once per config."""
    cached = _PLANS.get(id(config))
    if cached is None or cached[0] is not config:
        plan = [(n, f, config.rules.text(n)) for n, f in _RULES.items()]
        cached = _PLANS[id(config)] = (config, [p for p in plan if p[2].enabled])
    return cached[1]


def evaluate(s: Snapshot, config: RuleConfig, now: datetime) -> dict[RuleName, Fired | None]:
    """Every rule's answer for this customer; a disabled rule, or a customer with no partner
    to tell, answers None (which resolves what is open)."""
    answers: dict[RuleName, Fired | None] = dict.fromkeys(_RULES)
    if s.partner_id:
        for name, rule, settings in _plan(config):
            answers[name] = rule(s, settings, now)
    return answers


# When time alone can change an answer. A snapshot that no event changes only needs
# evaluating again at the instant one of its rules could answer differently (fire, clear, or
# fire with other facts; no fact counts days): `next_due` is the earliest such instant,
# conservative (an instant too early costs one evaluation that changes nothing, one too late
# would miss a nudge). None: time alone changes nothing. A snooze's end is the nudge's, not
# the snapshot's: the scheduler looks for those separately.

_Due = Callable[[Snapshot, Any, datetime], datetime | None]


def _due_implement_stalled(s: Snapshot, rule: ImplementStalled, now: datetime) -> datetime | None:
    if s.subscription_start is None or s.cancelled:
        return None
    start = _midnight(s.subscription_start)
    age = now - start
    if age < timedelta(days=rule.min_age_days):
        return start + timedelta(days=rule.min_age_days)
    return None  # old enough: activation and milestones only change with events


def _due_increase_opportunity(
    s: Snapshot, rule: IncreaseOpportunity, now: datetime
) -> datetime | None:
    if s.cancelled or s.utilisation is None or s.utilisation < rule.utilisation_at_least:
        return None
    at = _at_or_above_since(s, rule.utilisation_at_least)
    if at is None:
        return None
    held = datetime.fromtimestamp(at, UTC) + timedelta(days=rule.for_days)
    dues = [held] if now < held else []  # once held long enough, it holds until an event
    if s.last_expansion_at is not None:
        quiet = s.last_expansion_at + timedelta(days=rule.no_expansion_days)
        if quiet > now:
            dues.append(quiet)
    return min(dues, default=None)


def _due_renewal_at_risk(s: Snapshot, rule: RenewalAtRisk, now: datetime) -> datetime | None:
    if s.term_end is None or s.cancelled or s.band is None or s.band not in rule.bands:
        return None
    end = _midnight(s.term_end)
    left = end - now
    if left <= timedelta(0):
        return None
    if left > timedelta(days=rule.within_days):
        return end - timedelta(days=rule.within_days)
    return end  # within the window it holds until the term ends


def _due_health_drop(s: Snapshot, rule: HealthDrop, now: datetime) -> datetime | None:
    if s.score is None or not s.scores:
        return None
    window, now_s = timedelta(days=rule.within_days), epoch(now)
    due: datetime | None = None
    for at_s, _ in s.scores:
        at = datetime.fromtimestamp(at_s, UTC)
        # a point counts from its instant and leaves the window just after at + window
        for change in (at, at + window):
            if epoch(change) >= now_s and (due is None or change < due):
                due = change
    return due


_DUES: dict[RuleName, _Due] = {
    RuleName.IMPLEMENT_STALLED: _due_implement_stalled,
    RuleName.INCREASE_OPPORTUNITY: _due_increase_opportunity,
    RuleName.RENEWAL_AT_RISK: _due_renewal_at_risk,
    RuleName.HEALTH_DROP: _due_health_drop,
    RuleName.PAYMENT_FAILED: lambda s, rule, now: None,  # events only
}


def next_due(s: Snapshot, config: RuleConfig, now: datetime) -> datetime | None:
    """The earliest instant from `now` on at which time alone may change what `evaluate`
    answers for this snapshot (None: never); `evaluate` answers the same at every instant
    of [now, next_due)."""
    if not s.partner_id:
        return None
    dues = [d for name, _, settings in _plan(config) if (d := _DUES[name](s, settings, now))]
    return min(dues, default=None)
