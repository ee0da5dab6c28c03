"""Which 4I lifecycle step a customer is in, decided by the scorecard's configurable rules.

Involve until the subscription starts; Implement until activated with the core milestones
reached; Increase when an expansion signal shows (never once a cancellation is effective);
Improve otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fourfold.health.domain.components import utilisation
from fourfold.health.domain.scorecard import LifecycleRules, LifecycleStep
from fourfold.health.domain.signals import CustomerSignals, cancelled_as_of, utc_day


@dataclass(frozen=True)
class StepDecision:
    step: LifecycleStep
    reasons: tuple[str, ...]
    """Why the customer is in this step, for the explanation shown to partners."""
    activated: bool | None = None
    """`is_activated` at the decision's time, when the decision needed it (a started
    subscription); None when it was not asked."""


def is_activated(signals: CustomerSignals, rules: LifecycleRules, as_of: datetime) -> bool:
    """Enough bought seats in use; without seat data, any active user up to `as_of` counts."""
    ratio = utilisation(signals)
    if ratio is not None:
        return ratio >= rules.activation_utilisation
    today = utc_day(as_of)
    return any(value > 0 and day <= today for day, value in signals.active_users)


def increase_signals(
    signals: CustomerSignals, rules: LifecycleRules, as_of: datetime
) -> tuple[str, ...]:
    """The expansion signals present at `as_of`: high utilisation, a recent expansion,
    or the renewal window before term end."""
    found: list[str] = []
    ratio = utilisation(signals)
    if ratio is not None and ratio >= rules.increase_utilisation:
        found.append(f"utilisation {ratio:.2f} >= {rules.increase_utilisation}")
    recent = timedelta(days=rules.recent_expansion_days)
    if any(e.at <= as_of < e.at + recent for e in signals.expansions):
        found.append(f"expansion within {rules.recent_expansion_days} days")
    term_end = signals.term_end
    window = timedelta(days=rules.renewal_window_days)
    if term_end is not None and term_end - window <= as_of < term_end:
        found.append(f"renewal window: term ends {term_end.date().isoformat()}")
    return tuple(found)


def lifecycle_step(
    signals: CustomerSignals, rules: LifecycleRules, as_of: datetime
) -> StepDecision:
    """Decide the step from signals and time alone, so it is reproducible for any `as_of`."""
    start = signals.subscription_start
    if start is None:
        return StepDecision(LifecycleStep.INVOLVE, ("no subscription yet",))
    if start > as_of:
        return StepDecision(LifecycleStep.INVOLVE, (f"starts {start.isoformat()}",))
    reached = {m for m, at in signals.milestones.items() if at <= as_of}
    missing = sorted(rules.core_milestones - reached)
    activated = is_activated(signals, rules, as_of)
    if not activated or missing:
        reasons = [] if activated else ["not activated yet"]
        reasons += [f"missing milestone {m}" for m in missing]
        return StepDecision(LifecycleStep.IMPLEMENT, tuple(reasons), activated)
    found = increase_signals(signals, rules, as_of)
    cancelled = cancelled_as_of(signals, as_of)
    if found and cancelled is not None:
        # nothing to expand or renew once the subscription is gone: the signals are shown,
        # suppressed, so a partner sees why the customer is not an Increase opportunity
        day = cancelled.date().isoformat()
        suppressed = tuple(f"suppressed: {reason}" for reason in found)
        return StepDecision(
            LifecycleStep.IMPROVE, (f"cancelled effective {day}", *suppressed), activated
        )
    if found:
        return StepDecision(LifecycleStep.INCREASE, found, activated)
    return StepDecision(LifecycleStep.IMPROVE, ("activated, core milestones reached",), activated)
