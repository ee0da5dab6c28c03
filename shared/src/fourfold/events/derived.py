"""Events Fourfold derives and publishes through its outboxes."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from fourfold.events.activity import Milestone
from fourfold.events.bounds import (
    Count,
    EventDate,
    EventTime,
    Identifier,
    LongText,
    Measure,
    Score,
    ScoreChange,
    Seats,
    ShortText,
    Text,
)
from fourfold.events.envelope import Envelope, EventData
from fourfold.events.money import Money, MoneyTotal

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
    plan: Identifier | None = None
    subscription_status: Identifier | None = None
    seats: Seats | None = None
    seats_in_use: Count | None = None
    utilization: Annotated[Measure, Field(ge=0)] | None = None
    active_users_30d: Measure | None = None
    active_users_prev_30d: Measure | None = None
    usage_trend: Measure | None = None
    features_used: Count | None = None
    features_available: Count | None = None
    milestones: dict[Milestone, EventTime] = Field(default_factory=dict)
    activated: bool = False
    subscription_start: EventDate | None = None
    term_end: EventDate | None = None
    cancel_effective: EventDate | None = None  # the subscription ends then (cancelled)
    arr: MoneyTotal | None = None
    failed_payments: Count = 0
    past_due: bool = False
    last_nps: Annotated[int, Field(ge=0, le=10)] | None = None
    last_csat: Annotated[int, Field(ge=1, le=5)] | None = None
    last_expansion_at: EventTime | None = None

    def partition_key(self) -> str:
        raise NotImplementedError("a snapshot travels inside HealthChangedData")


class HealthChangedData(EventData):
    customer_id: Identifier
    partner_id: Identifier | None
    score: Score | None
    previous_score: Score | None
    band: Band
    previous_band: Band | None
    step: LifecycleStep
    previous_step: LifecycleStep | None
    trend_7d: ScoreChange | None = None
    trend_30d: ScoreChange | None = None
    scorecard_version: Identifier
    scored_at: EventTime
    signals: HealthSignalsSnapshot


class IncentiveAccruedData(EventData):
    entry_id: Identifier
    partner_id: Identifier
    customer_id: Identifier
    program_id: Identifier
    program_version: Identifier
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
    reason: Text
    source_event_id: Identifier


class NudgeRaisedData(EventData):
    nudge_id: Identifier
    partner_id: Identifier
    customer_id: Identifier
    rule: Identifier
    severity: Literal["info", "warning", "critical"]
    title: ShortText
    message: LongText
    raised_at: EventTime


class NudgeResolvedData(EventData):
    nudge_id: Identifier
    partner_id: Identifier
    customer_id: Identifier
    rule: Identifier
    resolution: Literal["condition_cleared", "acknowledged", "resolved", "expired"]
    resolved_at: EventTime


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
