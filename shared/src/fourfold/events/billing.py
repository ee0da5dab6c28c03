"""Billing events (topic `billing.subscriptions`): the Involve and Increase signals."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from fourfold.events.envelope import Envelope, EventData, Identifier
from fourfold.events.money import Money

BILLING_TOPIC = "billing.subscriptions"


class SubscriptionRef(EventData):
    subscription_id: Identifier
    customer_id: Identifier
    partner_id: Identifier


class SubscriptionCreatedData(SubscriptionRef):
    plan: Identifier
    seats: int = Field(ge=1)
    mrr: Money
    start_date: date
    term_end: date
    features_available: int | None = Field(default=None, ge=0)


class SubscriptionRenewedData(SubscriptionRef):
    plan: Identifier
    seats: int = Field(ge=1)
    mrr: Money
    term_start: date
    term_end: date


class SubscriptionExpandedData(SubscriptionRef):
    """Upsell: more seats or a higher plan."""

    previous_plan: Identifier
    plan: Identifier
    previous_seats: int = Field(ge=0)
    seats: int = Field(ge=1)
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
    previous_seats: int = Field(ge=0)
    seats: int = Field(ge=0)
    previous_mrr: Money
    mrr: Money


class SubscriptionCancelledData(SubscriptionRef):
    effective_date: date
    reason: str | None = Field(default=None, max_length=500)


class InvoicePaidData(EventData):
    invoice_id: Identifier
    subscription_id: Identifier
    customer_id: Identifier
    amount: Money
    paid_at: AwareDatetime


class InvoicePaymentFailedData(EventData):
    invoice_id: Identifier
    subscription_id: Identifier
    customer_id: Identifier
    amount: Money
    attempt: int = Field(ge=1)
    failure_reason: str | None = Field(default=None, max_length=500)
    next_retry_at: AwareDatetime | None = None


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
