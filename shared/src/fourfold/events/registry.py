"""Every event type, its topic, and one parser for raw JSON from HTTP or the broker."""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import Field, TypeAdapter

from fourfold.events.activity import (
    ACTIVITY_TOPIC,
    CustomerPartnerChanged,
    FeedbackSubmitted,
    MilestoneCompleted,
    PartnerCertified,
    PartnerTierChanged,
)
from fourfold.events.billing import (
    BILLING_TOPIC,
    InvoicePaid,
    InvoicePaymentFailed,
    SubscriptionAddonAdded,
    SubscriptionCancelled,
    SubscriptionContracted,
    SubscriptionCreated,
    SubscriptionExpanded,
    SubscriptionRenewed,
)
from fourfold.events.derived import (
    HEALTH_TOPIC,
    INCENTIVES_TOPIC,
    NUDGES_TOPIC,
    HealthChanged,
    IncentiveAccrued,
    IncentiveReversed,
    NudgeRaised,
    NudgeResolved,
)
from fourfold.events.envelope import Envelope
from fourfold.events.usage import USAGE_TOPIC, UsageReported

SCHEMA_VERSION: Final = "v1"

InputEvent = Annotated[
    SubscriptionCreated
    | SubscriptionRenewed
    | SubscriptionExpanded
    | SubscriptionAddonAdded
    | SubscriptionContracted
    | SubscriptionCancelled
    | InvoicePaid
    | InvoicePaymentFailed
    | UsageReported
    | MilestoneCompleted
    | PartnerCertified
    | FeedbackSubmitted
    | CustomerPartnerChanged
    | PartnerTierChanged,
    Field(discriminator="type"),
]

DerivedEvent = Annotated[
    HealthChanged | IncentiveAccrued | IncentiveReversed | NudgeRaised | NudgeResolved,
    Field(discriminator="type"),
]

AnyEvent = Annotated[InputEvent | DerivedEvent, Field(discriminator="type")]

INPUT_EVENT_TYPES: Final[dict[str, type[Envelope]]] = {
    model.model_fields["type"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in (
        SubscriptionCreated,
        SubscriptionRenewed,
        SubscriptionExpanded,
        SubscriptionAddonAdded,
        SubscriptionContracted,
        SubscriptionCancelled,
        InvoicePaid,
        InvoicePaymentFailed,
        UsageReported,
        MilestoneCompleted,
        PartnerCertified,
        FeedbackSubmitted,
        CustomerPartnerChanged,
        PartnerTierChanged,
    )
}
DERIVED_EVENT_TYPES: Final[dict[str, type[Envelope]]] = {
    model.model_fields["type"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in (HealthChanged, IncentiveAccrued, IncentiveReversed, NudgeRaised, NudgeResolved)
}
ALL_EVENT_TYPES: Final = {**INPUT_EVENT_TYPES, **DERIVED_EVENT_TYPES}

INPUT_TOPICS: Final = (BILLING_TOPIC, USAGE_TOPIC, ACTIVITY_TOPIC)
DERIVED_TOPICS: Final = (HEALTH_TOPIC, INCENTIVES_TOPIC, NUDGES_TOPIC)
ALL_TOPICS: Final = INPUT_TOPICS + DERIVED_TOPICS

_input_adapter: TypeAdapter[InputEvent] = TypeAdapter(InputEvent)
_any_adapter: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def parse_input_event(raw: bytes | str | dict[str, Any]) -> Envelope:
    """Validate one vendor event (JSON text or an already-decoded object)."""
    if isinstance(raw, dict):
        return _input_adapter.validate_python(raw)
    return _input_adapter.validate_json(raw)


def parse_event(raw: bytes | str | dict[str, Any]) -> Envelope:
    """Validate any Fourfold event, input or derived."""
    if isinstance(raw, dict):
        return _any_adapter.validate_python(raw)
    return _any_adapter.validate_json(raw)


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"
