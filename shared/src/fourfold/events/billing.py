"""Billing events (topic `billing.subscriptions`): the Involve and Increase signals."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from fourfold.events.bounds import Count, EventDate, EventTime, Identifier, Seats, Text
from fourfold.events.envelope import Envelope, EventData
from fourfold.events.money import Money

BILLING_TOPIC = "billing.subscriptions"


class SubscriptionRef(EventData):
    subscription_id: Identifier
    customer_id: Identifier
    partner_id: Identifier


class SubscriptionCreatedData(SubscriptionRef):
    plan: Identifier
    seats: Annotated[Seats, Field(ge=1)]
    mrr: Money
    start_date: EventDate
    term_end: EventDate
    features_available: Count | None = None


class SubscriptionRenewedData(SubscriptionRef):
    plan: Identifier
    seats: Annotated[Seats, Field(ge=1)]
    mrr: Money
    term_start: EventDate
    term_end: EventDate


class SubscriptionExpandedData(SubscriptionRef):
    """Upsell: more seats or a higher plan."""

    previous_plan: Identifier
    plan: Identifier
    previous_seats: Seats
    seats: Annotated[Seats, Field(ge=1)]
    previous_mrr: Money
    mrr: Money


class SubscriptionAddonAddedData(SubscriptionRef):
    """Cross-sell: another product on the same subscription."""

    addon: Identifier
    addon_mrr: Money
    mrr: Money


class SubscriptionContractedData(SubscriptionRef):
    previous_plan: Identifier
    plan: Identifier
    previous_seats: Seats
    seats: Seats
    previous_mrr: Money
    mrr: Money


class SubscriptionCancelledData(SubscriptionRef):
    effective_date: EventDate
    reason: Text | None = None


class InvoicePaidData(EventData):
    invoice_id: Identifier
    subscription_id: Identifier
    customer_id: Identifier
    amount: Money
    paid_at: EventTime


class InvoicePaymentFailedData(EventData):
    invoice_id: Identifier
    subscription_id: Identifier
    customer_id: Identifier
    amount: Money
    attempt: Annotated[Count, Field(ge=1)]
    failure_reason: Text | None = None
    next_retry_at: EventTime | None = None


class _Billing(Envelope):
    topic: ClassVar[str] = BILLING_TOPIC


class SubscriptionCreated(_Billing):
    type: Literal["subscription.created"]
    data: SubscriptionCreatedData


class SubscriptionRenewed(_Billing):
    type: Literal["subscription.renewed"]
    data: SubscriptionRenewedData


class SubscriptionExpanded(_Billing):
    type: Literal["subscription.expanded"]
    data: SubscriptionExpandedData


class SubscriptionAddonAdded(_Billing):
    type: Literal["subscription.addon_added"]
    data: SubscriptionAddonAddedData


class SubscriptionContracted(_Billing):
    type: Literal["subscription.contracted"]
    data: SubscriptionContractedData


class SubscriptionCancelled(_Billing):
    type: Literal["subscription.cancelled"]
    data: SubscriptionCancelledData


class InvoicePaid(_Billing):
    type: Literal["invoice.paid"]
    data: InvoicePaidData


class InvoicePaymentFailed(_Billing):
    type: Literal["invoice.payment_failed"]
    data: InvoicePaymentFailedData
