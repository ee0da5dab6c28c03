"""Events Fourfold derives and publishes through its outboxes."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal

from pydantic import Field, StrictBool

from fourfold.events.activity import Milestone
from fourfold.events.bounds import (
    MAX_COUNT,
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
from fourfold.events.money import MoneyTotal

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
    amount: MoneyTotal
    source_event_id: Identifier
    period: Identifier


class IncentiveReversedData(EventData):
    entry_id: Identifier
    reverses_entry_id: Identifier
    partner_id: Identifier
    customer_id: Identifier
    amount: MoneyTotal
    reason: Text
    source_event_id: Identifier


MAX_FACTS: Final = 32
"""Facts one nudge carries."""
MAX_LISTED: Final = 100
"""Items in one list-valued fact (a rule lists at most this many and counts the rest)."""

FactNumber = Annotated[int, Field(ge=-MAX_COUNT, le=MAX_COUNT)]
"""A whole-number fact (days, seats, a score, a count)."""
FactValue = (
    StrictBool
    | FactNumber
    | Measure
    | Text
    | Annotated[list[Identifier], Field(max_length=MAX_LISTED)]
)
"""One fact: a flag, a whole number, a ratio, a short text (a date, a band) or a list of
ids (milestones, invoices); a fact that does not apply is null."""
NudgeFacts = Annotated[dict[Identifier, FactValue | None], Field(max_length=MAX_FACTS)]
"""What made a rule fire, by name (`days_since_start`, `activation`, …)."""


class NudgeRaisedData(EventData):
    """A nudge for a partner: which rule fired, how urgent, why (`facts`) and what to do
    (`next_step`). `facts` and `next_step` arrived after v1's first release: optional, so an
    event without them still validates (`message` has always held the next step's text)."""

    nudge_id: Identifier
    partner_id: Identifier
    customer_id: Identifier
    rule: Identifier
    severity: Literal["info", "warning", "critical"]
    title: ShortText
    message: LongText
    raised_at: EventTime
    facts: NudgeFacts | None = Field(
        default=None, description="The facts that fired the rule, by name."
    )
    next_step: LongText | None = Field(
        default=None, description="The suggested next step for the partner (as `message`)."
    )


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
    "MAX_FACTS",
    "MAX_LISTED",
    "NUDGES_TOPIC",
    "Band",
    "FactValue",
    "HealthChanged",
    "HealthChangedData",
    "HealthSignalsSnapshot",
    "IncentiveAccrued",
    "IncentiveAccruedData",
    "IncentiveReversed",
    "IncentiveReversedData",
    "LifecycleStep",
    "NudgeFacts",
    "NudgeRaised",
    "NudgeRaisedData",
    "NudgeResolved",
    "NudgeResolvedData",
]
