"""Real-shaped billing-system payloads for tests and benchmarks: Stripe and Chargebee.

Stripe objects follow the API reference for API version 2024-06-20 (subscription, price,
subscription item, invoice, customer, event); Chargebee's follow its API v2 webhook
examples (event with `content.subscription`, `content.customer`, `content.invoice`).
Every field a real delivery carries at the top level is present, with the values Stripe or
Chargebee would put there, so the adapters are tested on what they will really receive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STRIPE_API_VERSION = "2024-06-20"


@dataclass(frozen=True)
class StripeLine:
    """One subscription item: a price (in minor units) × quantity."""

    item_id: str
    price_id: str
    product: str
    unit_amount: int
    quantity: int | None = 1
    interval: str = "month"
    interval_count: int = 1
    currency: str = "usd"
    usage_type: str = "licensed"
    lookup_key: str | None = None


def stripe_price(line: StripeLine, created: int) -> dict[str, Any]:
    return {
        "id": line.price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": line.currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": line.lookup_key,
        "metadata": {},
        "nickname": None,
        "product": line.product,
        "recurring": {
            "aggregate_usage": None,
            "interval": line.interval,
            "interval_count": line.interval_count,
            "meter": None,
            "trial_period_days": None,
            "usage_type": line.usage_type,
        },
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": line.unit_amount,
        "unit_amount_decimal": str(line.unit_amount),
    }


def stripe_items(subscription_id: str, lines: list[StripeLine], created: int) -> dict[str, Any]:
    data = []
    for line in lines:
        price = stripe_price(line, created)
        item: dict[str, Any] = {
            "id": line.item_id,
            "object": "subscription_item",
            "billing_thresholds": None,
            "created": created,
            "discounts": [],
            "metadata": {},
            "plan": {
                "id": line.price_id,
                "object": "plan",
                "active": True,
                "aggregate_usage": None,
                "amount": line.unit_amount,
                "amount_decimal": str(line.unit_amount),
                "billing_scheme": "per_unit",
                "created": created,
                "currency": line.currency,
                "interval": line.interval,
                "interval_count": line.interval_count,
                "livemode": False,
                "metadata": {},
                "nickname": None,
                "product": line.product,
                "tiers_mode": None,
                "transform_usage": None,
                "trial_period_days": None,
                "usage_type": line.usage_type,
            },
            "price": price,
            "subscription": subscription_id,
            "tax_rates": [],
        }
        if line.quantity is not None:
            item["quantity"] = line.quantity
        data.append(item)
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "total_count": len(data),
        "url": f"/v1/subscription_items?subscription={subscription_id}",
    }


def stripe_subscription(
    subscription_id: str,
    customer: str,
    lines: list[StripeLine],
    *,
    metadata: dict[str, str] | None = None,
    start: int = 1764547200,  # 2025-12-01T00:00:00Z
    period_start: int | None = None,
    period_end: int | None = None,
    status: str = "active",
    canceled_at: int | None = None,
    ended_at: int | None = None,
    cancellation_reason: str | None = None,
) -> dict[str, Any]:
    period_start = start if period_start is None else period_start
    period_end = period_start + 30 * 86400 if period_end is None else period_end
    return {
        "id": subscription_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": start,
        "billing_cycle_anchor_config": None,
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": canceled_at,
        "cancellation_details": {
            "comment": None,
            "feedback": None,
            "reason": cancellation_reason,
        },
        "collection_method": "charge_automatically",
        "created": start,
        "currency": lines[0].currency if lines else "usd",
        "current_period_end": period_end,
        "current_period_start": period_start,
        "customer": customer,
        "days_until_due": None,
        "default_payment_method": "pm_1PqR2sLkdIwHu7ixVb0aBcDe",
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discount": None,
        "discounts": [],
        "ended_at": ended_at,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": stripe_items(subscription_id, lines, start),
        "latest_invoice": f"in_{subscription_id[4:]}",
        "livemode": False,
        "metadata": metadata or {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": start,
        "status": status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }


def stripe_customer(customer: str, *, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": customer,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": 1764547000,
        "currency": "usd",
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": "billing@acme.example",
        "invoice_prefix": "0759376C",
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata or {},
        "name": "Acme GmbH",
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def stripe_invoice(
    invoice_id: str,
    *,
    customer: str,
    subscription: str | None,
    amount: int,
    currency: str = "usd",
    paid_at: int | None = None,
    attempt_count: int = 1,
    next_payment_attempt: int | None = None,
) -> dict[str, Any]:
    paid = paid_at is not None
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "DE",
        "account_name": "Vendor Example GmbH",
        "account_tax_ids": None,
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": attempt_count,
        "attempted": True,
        "auto_advance": not paid,
        "billing_reason": "subscription_cycle",
        "charge": f"ch_{invoice_id[3:]}",
        "collection_method": "charge_automatically",
        "created": 1767225600,
        "currency": currency,
        "customer": customer,
        "customer_email": "billing@acme.example",
        "customer_name": "Acme GmbH",
        "description": None,
        "discount": None,
        "discounts": [],
        "due_date": None,
        "ending_balance": 0,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_1Nv0FGQ9RKHgCVdK/{invoice_id}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/acct_1Nv0FGQ9RKHgCVdK/{invoice_id}/pdf",
        "last_finalization_error": None,
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": next_payment_attempt,
        "number": "0759376C-0002",
        "paid": paid,
        "paid_out_of_band": False,
        "payment_intent": f"pi_{invoice_id[3:]}",
        "period_end": 1767225600,
        "period_start": 1764547200,
        "status": "paid" if paid else "open",
        "status_transitions": {
            "finalized_at": 1767225600,
            "marked_uncollectible_at": None,
            "paid_at": paid_at,
            "voided_at": None,
        },
        "subscription": subscription,
        "subtotal": amount,
        "tax": None,
        "total": amount,
        "total_tax_amounts": [],
        "webhooks_delivered_at": 1767225600,
    }


def stripe_event(
    event_id: str,
    event_type: str,
    obj: dict[str, Any],
    *,
    created: int = 1764547300,
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id,
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{event_id[4:18]}", "idempotency_key": None},
        "type": event_type,
    }


@dataclass(frozen=True)
class ChargebeeItem:
    """One subscription item (Product Catalog 2.0): an item price × quantity, minor units."""

    item_price_id: str
    unit_price: int
    quantity: int = 1
    item_type: str = "plan"


def chargebee_subscription(
    subscription_id: str,
    customer_id: str,
    items: list[ChargebeeItem],
    *,
    currency: str = "USD",
    period_unit: str = "month",
    period: int = 1,
    term_start: int = 1764547200,
    term_end: int | None = None,
    status: str = "active",
    partner: str | None = None,
    cancelled_at: int | None = None,
    cancel_reason: str | None = None,
) -> dict[str, Any]:
    months = {"month": 1, "year": 12}.get(period_unit, 1) * period
    term_end = term_start + months * 30 * 86400 if term_end is None else term_end
    subscription: dict[str, Any] = {
        "id": subscription_id,
        "billing_period": period,
        "billing_period_unit": period_unit,
        "auto_collection": "on",
        "customer_id": customer_id,
        "status": status,
        "current_term_start": term_start,
        "current_term_end": term_end,
        "next_billing_at": term_end,
        "created_at": term_start,
        "started_at": term_start,
        "activated_at": term_start,
        "created_from_ip": "203.0.113.7",
        "updated_at": term_start,
        "has_scheduled_changes": False,
        "channel": "web",
        "resource_version": term_start * 1000 + 512,
        "deleted": False,
        "object": "subscription",
        "currency_code": currency,
        "subscription_items": [
            {
                "item_price_id": item.item_price_id,
                "item_type": item.item_type,
                "quantity": item.quantity,
                "unit_price": item.unit_price,
                "amount": item.unit_price * item.quantity,
                "free_quantity": 0,
                "object": "subscription_item",
            }
            for item in items
        ],
        "due_invoices_count": 0,
        "mrr": 0,
        "has_scheduled_advance_invoices": False,
        "create_pending_invoices": False,
        "auto_close_invoices": True,
    }
    if partner is not None:
        subscription["cf_partner_id"] = partner
    if cancelled_at is not None:
        subscription["cancelled_at"] = cancelled_at
        subscription["cancel_reason_code"] = cancel_reason
    return subscription


def chargebee_customer(customer_id: str, *, partner: str | None = None) -> dict[str, Any]:
    customer: dict[str, Any] = {
        "id": customer_id,
        "first_name": "Ada",
        "last_name": "Acme",
        "email": "billing@acme.example",
        "company": "Acme GmbH",
        "auto_collection": "on",
        "net_term_days": 0,
        "allow_direct_debit": False,
        "created_at": 1764547000,
        "taxability": "taxable",
        "updated_at": 1764547000,
        "pii_cleared": "active",
        "channel": "web",
        "resource_version": 1764547000123,
        "deleted": False,
        "object": "customer",
        "card_status": "valid",
        "promotional_credits": 0,
        "refundable_credits": 0,
        "excess_payments": 0,
        "unbilled_charges": 0,
        "preferred_currency_code": "USD",
        "mrr": 0,
    }
    if partner is not None:
        customer["meta_data"] = {"cf_partner_id": partner}
    return customer


def chargebee_invoice(
    invoice_id: str,
    *,
    customer_id: str,
    subscription_id: str | None,
    amount: int,
    currency: str = "USD",
    paid_at: int | None = None,
    dunning_attempts: int = 0,
    next_retry_at: int | None = None,
) -> dict[str, Any]:
    paid = paid_at is not None
    invoice: dict[str, Any] = {
        "id": invoice_id,
        "customer_id": customer_id,
        "recurring": True,
        "status": "paid" if paid else "payment_due",
        "price_type": "tax_exclusive",
        "date": 1767225600,
        "due_date": 1767225600,
        "net_term_days": 0,
        "exchange_rate": 1.0,
        "total": amount,
        "amount_paid": amount if paid else 0,
        "amount_adjusted": 0,
        "write_off_amount": 0,
        "credits_applied": 0,
        "amount_due": 0 if paid else amount,
        "updated_at": 1767225600,
        "resource_version": 1767225600456,
        "deleted": False,
        "object": "invoice",
        "first_invoice": False,
        "amount_to_collect": 0 if paid else amount,
        "round_off_amount": 0,
        "has_advance_charges": False,
        "currency_code": currency,
        "base_currency_code": currency,
        "generated_at": 1767225600,
        "is_gifted": False,
        "term_finalized": True,
        "channel": "web",
        "tax": 0,
        "sub_total": amount,
        "line_items": [],
        "linked_payments": [],
        "dunning_attempts": [
            {
                "attempt": n,
                "created_at": 1767225600 + n * 86400,
                "dunning_type": "auto_collect",
                "transaction_id": f"txn_{invoice_id}_{n}",
                "transaction_status": "failure",
            }
            for n in range(dunning_attempts)
        ],
    }
    if subscription_id is not None:
        invoice["subscription_id"] = subscription_id
    if paid:
        invoice["paid_at"] = paid_at
    if next_retry_at is not None:
        invoice["next_retry_at"] = next_retry_at
    return invoice


def chargebee_transaction(
    transaction_id: str, *, amount: int, success: bool, currency: str = "USD"
) -> dict[str, Any]:
    transaction: dict[str, Any] = {
        "id": transaction_id,
        "customer_id": "cust",
        "payment_method": "card",
        "gateway": "stripe",
        "type": "payment",
        "date": 1767225600,
        "currency_code": currency,
        "amount": amount,
        "id_at_gateway": f"ch_{transaction_id}",
        "status": "success" if success else "failure",
        "object": "transaction",
        "deleted": False,
    }
    if not success:
        transaction["error_code"] = "card_declined"
        transaction["error_text"] = "Your card was declined."
    return transaction


def chargebee_event(
    event_id: str, event_type: str, content: dict[str, Any], *, occurred_at: int = 1764547300
) -> dict[str, Any]:
    return {
        "id": event_id,
        "occurred_at": occurred_at,
        "source": "admin_console",
        "user": "ops@vendor.example",
        "object": "event",
        "api_version": "v2",
        "content": content,
        "event_type": event_type,
        "webhook_status": "scheduled",
        "webhooks": [
            {"id": f"whv2_{event_id}", "webhook_status": "scheduled", "object": "webhook"}
        ],
    }
