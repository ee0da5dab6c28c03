"""Partner activity (topic `partner.activity`): milestones, certifications, feedback, ownership."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from fourfold.events.bounds import EventTime, Identifier, LongText, Text
from fourfold.events.envelope import Envelope, EventData

ACTIVITY_TOPIC = "partner.activity"


class Milestone(StrEnum):
    KICKOFF = "kickoff"
    CONFIGURED = "configured"
    USERS_TRAINED = "users_trained"
    FIRST_VALUE = "first_value"
    QBR_HELD = "qbr_held"
    SUCCESS_PLAN = "success_plan"


class MilestoneCompletedData(EventData):
    customer_id: Identifier
    partner_id: Identifier
    milestone: Milestone
    completed_at: EventTime


class PartnerCertifiedData(EventData):
    partner_id: Identifier
    certification: Identifier
    level: Annotated[Identifier, Field(max_length=64)] | None = None
    certified_at: EventTime

    def partition_key(self) -> str:
        """Partner-level event: keyed by partner, it has no customer."""
        return self.partner_id


class FeedbackSubmittedData(EventData):
    """One NPS answer (0–10) or CSAT answer (1–5)."""

    customer_id: Identifier
    partner_id: Identifier | None = None
    kind: Literal["nps", "csat"]
    score: int = Field(ge=0, le=10, description="NPS 0–10, CSAT 1–5.")
    comment: LongText | None = None
    submitted_at: EventTime

    @model_validator(mode="after")
    def _score_in_scale(self) -> FeedbackSubmittedData:
        low, high = (0, 10) if self.kind == "nps" else (1, 5)
        if not low <= self.score <= high:
            raise ValueError(f"score for {self.kind} must be within {low}..{high}")
        return self


class CustomerPartnerChangedData(EventData):
    customer_id: Identifier
    previous_partner_id: Identifier | None = None
    partner_id: Identifier
    effective_at: EventTime


class PartnerTierChangedData(EventData):
    """A partner's program tier from `effective_at` on (set by an admin in incentives)."""

    partner_id: Identifier
    tier: Identifier
    previous_tier: Identifier | None = None
    effective_at: EventTime
    reason: Text | None = None

    def partition_key(self) -> str:
        """Partner-level event: keyed by partner, it has no customer."""
        return self.partner_id


class _Activity(Envelope):
    topic: ClassVar[str] = ACTIVITY_TOPIC


class MilestoneCompleted(_Activity):
    type: Literal["milestone.completed"]
    data: MilestoneCompletedData


class PartnerCertified(_Activity):
    type: Literal["partner.certified"]
    data: PartnerCertifiedData


class FeedbackSubmitted(_Activity):
    type: Literal["feedback.submitted"]
    data: FeedbackSubmittedData


class CustomerPartnerChanged(_Activity):
    type: Literal["customer.partner_changed"]
    data: CustomerPartnerChangedData


class PartnerTierChanged(_Activity):
    type: Literal["partner.tier_changed"]
    data: PartnerTierChangedData
