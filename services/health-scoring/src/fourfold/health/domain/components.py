"""Each health component turns signals into a 0..1 score, or says it is not available.

"Not available" (score None) means we have no data for it; the scorer then redistributes its
weight instead of counting it as zero, so a customer is never punished for a missing feed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

from fourfold.health.domain.scorecard import (
    ComponentConfig,
    ComponentName,
    EngagementConfig,
    ImplementationConfig,
    PaymentConfig,
    RatioConfig,
    Scorecard,
    SentimentConfig,
)
from fourfold.health.domain.signals import CustomerSignals, utc_day

InputValue = bool | int | str | Decimal | None
Reading = tuple[Mapping[str, InputValue], Decimal | None]
"""What a reader found: the inputs it used and its 0..1 score (None = not available)."""
Reader = Callable[[CustomerSignals, Any, datetime], Reading]
ZERO, ONE = Decimal(0), Decimal(1)


class ComponentReading(NamedTuple):
    """A reader's result, named. A tuple, not a frozen dataclass: six are built per rescore,
    and the dataclass's constructor (a frozen `setattr` per field) cost 1 µs each."""

    name: ComponentName
    score: Decimal | None
    """0..1, or None when the component is not available."""
    inputs: Mapping[str, InputValue] = MappingProxyType({})

    @property
    def available(self) -> bool:
        return self.score is not None


def clamp(value: Decimal) -> Decimal:
    """Keep a normalised score inside 0..1 whatever the inputs."""
    return max(ZERO, min(ONE, value))


def utilisation(signals: CustomerSignals) -> Decimal | None:
    """Seats in use / seats bought, or None when either is unknown or nothing was bought."""
    if not signals.seats_bought or signals.seats_in_use is None:
        return None
    return Decimal(signals.seats_in_use) / Decimal(signals.seats_bought)


def read_adoption(signals: CustomerSignals, config: RatioConfig, as_of: datetime) -> Reading:
    """Share of bought seats in use: unused seats are the earliest churn warning."""
    ratio = utilisation(signals)
    inputs = {"seats_in_use": signals.seats_in_use, "seats_bought": signals.seats_bought}
    if ratio is None:
        return inputs, None
    return {**inputs, "utilisation": ratio}, clamp(ratio / config.full_at)


def engagement_windows(
    series: tuple[tuple[date, int], ...], today: date, window_days: int
) -> tuple[int, int]:
    """Active-user totals of the last window ending today and of the window before it;
    days without a report count as zero, which is what makes an idle customer decay. One
    pass over the series (it runs twice per rescore: the component and the snapshot)."""
    recent_start = today - timedelta(days=window_days - 1)
    prior_start = recent_start - timedelta(days=window_days)
    recent = prior = 0
    for day, value in series:
        if day >= recent_start:
            if day <= today:
                recent += value
        elif day >= prior_start:
            prior += value
    return recent, prior


def read_engagement(signals: CustomerSignals, config: EngagementConfig, as_of: datetime) -> Reading:
    """Active users now against the window before, relative to `as_of` rather than the last
    event, so the score moves with the clock."""
    today = utc_day(as_of)
    if not any(day <= today for day, _ in signals.active_users):
        return {}, None
    recent, prior = engagement_windows(signals.active_users, today, config.window_days)
    days = Decimal(config.window_days)
    inputs: dict[str, InputValue] = {
        "window_days": config.window_days,
        "recent_avg_active_users": Decimal(recent) / days,
        "prior_avg_active_users": Decimal(prior) / days,
    }
    if prior == 0:
        return inputs, ONE if recent > 0 else ZERO
    ratio = Decimal(recent) / Decimal(prior)
    inputs["ratio"] = ratio
    return inputs, clamp((ratio - config.zero_at) / (config.full_at - config.zero_at))


def read_breadth(signals: CustomerSignals, config: RatioConfig, as_of: datetime) -> Reading:
    """Share of the plan's features in use: broad use makes the product hard to replace."""
    available = signals.features_available
    inputs = {"features_used": len(signals.features_used), "features_available": available}
    if not available:
        return inputs, None
    ratio = min(ONE, Decimal(len(signals.features_used)) / Decimal(available))
    return {**inputs, "ratio": ratio}, clamp(ratio / config.full_at)


def read_implementation(
    signals: CustomerSignals, config: ImplementationConfig, as_of: datetime
) -> Reading:
    """Milestones reached out of those expected by the customer's age: being late is the risk,
    so milestones not yet due neither help nor hurt."""
    start = signals.subscription_start
    if start is None:
        return {}, None
    age_days = (as_of - start).days
    expected = [m for m, day in config.expected_by_day.items() if age_days >= day]
    reached = [m for m in expected if m in signals.milestones and signals.milestones[m] <= as_of]
    inputs: dict[str, InputValue] = {
        "age_days": age_days,
        "expected": ",".join(expected),
        "reached": ",".join(reached),
    }
    if not expected:
        return inputs, None
    return inputs, Decimal(len(reached)) / Decimal(len(expected))


def read_payment(signals: CustomerSignals, config: PaymentConfig, as_of: datetime) -> Reading:
    """Failed invoices and past-due state; a known subscription with no failures is healthy."""
    if signals.payment is None and signals.subscription_start is None:
        return {}, None
    failed = signals.payment.failed_invoices if signals.payment else 0
    past_due = signals.payment.past_due if signals.payment else False
    inputs: dict[str, InputValue] = {"failed_invoices": failed, "past_due": past_due}
    value = clamp(ONE - config.penalty_per_failed_invoice * failed)
    return inputs, min(value, config.past_due_cap) if past_due else value


def read_sentiment(signals: CustomerSignals, config: SentimentConfig, as_of: datetime) -> Reading:
    """The latest NPS or CSAT answer while it is fresh; a stale opinion says nothing."""
    answer = signals.sentiment
    if answer is None or not answer.at <= as_of < answer.at + timedelta(days=config.max_age_days):
        return {}, None
    inputs: dict[str, InputValue] = {
        "kind": answer.kind.value,
        "value": answer.value,
        "at": answer.at.isoformat(),
    }
    return inputs, answer.normalised()


READERS: dict[ComponentName, Reader] = {
    ComponentName.ADOPTION: read_adoption,
    ComponentName.ENGAGEMENT: read_engagement,
    ComponentName.BREADTH: read_breadth,
    ComponentName.IMPLEMENTATION: read_implementation,
    ComponentName.PAYMENT: read_payment,
    ComponentName.SENTIMENT: read_sentiment,
}


def read_component(
    name: ComponentName, signals: CustomerSignals, config: ComponentConfig, as_of: datetime
) -> ComponentReading:
    """Read one component by name, so callers need not know which config type it takes."""
    inputs, value = READERS[name](signals, config, as_of)
    return ComponentReading(name, value, inputs)


def read_components(
    signals: CustomerSignals, scorecard: Scorecard, as_of: datetime
) -> tuple[ComponentReading, ...]:
    """Read every component the scorecard configures, available or not."""
    readings = []
    for name, config in scorecard.components.configured.items():
        inputs, value = READERS[name](signals, config, as_of)
        readings.append(ComponentReading(name, value, inputs))
    return tuple(readings)
