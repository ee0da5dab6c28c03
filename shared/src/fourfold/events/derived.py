"""Events Fourfold derives and publishes through its outboxes."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from fourfold.events.envelope import Envelope, EventData, Identifier
from fourfold.events.money import Money

HEALTH_TOPIC = "customer.health"
INCENTIVES_TOPIC = "partner.incentives"
NUDGES_TOPIC = "partner.nudges"


class Band(StrEnum):
    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"
    UNKNOWN = "unknown"


class LifecycleStep(StrEnum):
    INVOLVE = "involve"
    IMPLEMENT = "implement"
    IMPROVE = "improve"
    INCREASE = "increase"


class HealthSignalsSnapshot(EventData):
    """What downstream services need to act, so they never re-aggregate raw usage."""

    partner_id: Identifier | None = None
    plan: str | None = None
    subscription_status: str | None = None
    seats: int | None = None
    seats_in_use: int | None = None
    utilization: float | None = Field(default=None, ge=0)
    active_users_30d: float | None = None
    active_users_prev_30d: float | None = None
    usage_trend: float | None = None
    features_used: int | None = None
    features_available: int | None = None
    milestones: dict[str, AwareDatetime] = Field(default_factory=dict)
    activated: bool = False
    subscription_start: date | None = None
    term_end: date | None = None
    cancel_effective: date | None = None  # the subscription ends then (cancelled)
    arr: Money | None = None
    failed_payments: int = 0
    past_due: bool = False
    last_nps: int | None = None
    last_csat: int | None = None
    last_expansion_at: AwareDatetime | None = None

    def partition_key(self) -> str:
        raise NotImplementedError("a snapshot travels inside HealthChangedData")


class HealthChangedData(EventData):
    customer_id: Identifier
    partner_id: Identifier | None
    score: int | None = Field(ge=0, le=100)
    previous_score: int | None = Field(ge=0, le=100)
    band: Band
    previous_band: Band | None
    step: LifecycleStep
    previous_step: LifecycleStep | None
    trend_7d: int | None = None
    trend_30d: int | None = None
    scorecard_version: str
    scored_at: AwareDatetime
    signals: HealthSignalsSnapshot


class IncentiveAccruedData(EventData):
    entry_id: Identifier
    partner_id: Identifier
    customer_id: Identifier
    program_id: Identifier
    program_version: str
    rule: Identifier
    amount: Money
    source_event_id: Identifier
    period: Identifier


class IncentiveReversedData(EventData):
    entry_id: Identifier
    reverses_entry_id: Identifier
    partner_id: Identifier
    customer_id: Identifier
    amount: Money
    reason: str = Field(max_length=500)
    source_event_id: Identifier


class NudgeRaisedData(EventData):
    nudge_id: Identifier
    partner_id: Identifier
    customer_id: Identifier
    rule: Identifier
    severity: Literal["info", "warning", "critical"]
    title: str = Field(max_length=200)
    message: str = Field(max_length=2000)
    raised_at: AwareDatetime


class NudgeResolvedData(EventData):
    nudge_id: Identifier
    partner_id: Identifier
    customer_id: Identifier
    rule: Identifier
    resolution: Literal["condition_cleared", "acknowledged", "resolved", "expired"]
    resolved_at: AwareDatetime


class HealthChanged(Envelope):
    topic: ClassVar[str] = HEALTH_TOPIC
    type: Literal["health.changed"]
    data: HealthChangedData


class IncentiveAccrued(Envelope):
    topic: ClassVar[str] = INCENTIVES_TOPIC
    type: Literal["incentive.accrued"]
    data: IncentiveAccruedData


class IncentiveReversed(Envelope):
    topic: ClassVar[str] = INCENTIVES_TOPIC
    type: Literal["incentive.reversed"]
    data: IncentiveReversedData


class NudgeRaised(Envelope):
    topic: ClassVar[str] = NUDGES_TOPIC
    type: Literal["nudge.raised"]
    data: NudgeRaisedData


class NudgeResolved(Envelope):
    topic: ClassVar[str] = NUDGES_TOPIC
    type: Literal["nudge.resolved"]
    data: NudgeResolvedData


__all__ = [
    "HEALTH_TOPIC",
    "INCENTIVES_TOPIC",
    "NUDGES_TOPIC",
    "Band",
    "HealthChanged",
    "HealthChangedData",
    "HealthSignalsSnapshot",
    "IncentiveAccrued",
    "IncentiveAccruedData",
    "IncentiveReversed",
    "IncentiveReversedData",
    "LifecycleStep",
    "NudgeRaised",
    "NudgeRaisedData",
    "NudgeResolved",
    "NudgeResolvedData",
]
