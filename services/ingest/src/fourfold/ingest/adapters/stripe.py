"""Stripe events → Fourfold events: pure functions of the delivered payload.

Pinned to Stripe API version 2024-06-20 (the shapes of its API reference), and reads the
2025-03-31 ("basil") moves too: the billing period on subscription items instead of the
subscription, an invoice's subscription under `parent.subscription_details`. The mapping
table is in docs/adapters.md.

- seats: the quantity of the subscription's first item (its plan);
- MRR: every licensed recurring item's `unit_amount_decimal` × quantity, spread over its
  interval (`fourfold.ingest.adapters.amounts`), in the currency's major unit;
- partner of record: `metadata[<key>]` on the subscription, else on its customer (learned
  from `customer.created` / `customer.updated`, or an expanded customer object).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from fourfold.ingest.adapters.amounts import AmountError, RecurringLine, from_minor, mrr
from fourfold.ingest.adapters.translation import (
    Outcome,
    PayloadError,
    Translation,
    at,
    day,
    lifecycle_event,
    money_json,
    numbered,
    obj,
    partner_value,
    text,
)

SUBSCRIPTION_TYPES: Final = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    }
)
CUSTOMER_TYPES: Final = frozenset({"customer.created", "customer.updated"})
INVOICE_TYPES: Final = frozenset({"invoice.paid", "invoice.payment_failed"})
USED_TYPES: Final = SUBSCRIPTION_TYPES | CUSTOMER_TYPES | INVOICE_TYPES


@dataclass(frozen=True, slots=True)
class StripeMapping:
    """What the mapping needs from settings."""

    source: str
    partner_key: str
    renewal_min_months: int


def customer_of(event: dict[str, Any], partner_key: str) -> str | None:
    """The customer whose stored partner a subscription event needs: None when the event
    carries its partner itself (the common case costs no lookup)."""
    if event.get("type") not in SUBSCRIPTION_TYPES:
        return None
    subscription = event.get("data", {}).get("object", {})
    found = subscription.get("customer") if isinstance(subscription, dict) else None
    if _metadata(subscription, partner_key) or _metadata(found, partner_key):
        return None
    if isinstance(found, dict):
        found = found.get("id")
    return found if isinstance(found, str) else None


def translate(
    event: dict[str, Any], rules: StripeMapping, *, known_partner: str | None
) -> Translation:
    """The Fourfold events one Stripe event stands for; raises PayloadError on a bad shape."""
    kind = event.get("type")
    if kind not in USED_TYPES:
        return Translation.ignored(f"Stripe event type {kind!r} is not used")
    try:
        subject = obj(obj(event, "data"), "object")
        if kind in CUSTOMER_TYPES:
            return _customer(subject, rules)
        if kind in INVOICE_TYPES:
            return _invoice(event, subject, rules)
        return _subscription(event, subject, rules, known_partner)
    except (AmountError, KeyError, TypeError, AttributeError) as exc:
        raise PayloadError(f"{type(exc).__name__}: {exc}") from exc


def _customer(customer: dict[str, Any], rules: StripeMapping) -> Translation:
    partner = _metadata(customer, rules.partner_key)
    if partner is None:
        return Translation.ignored(f"customer has no metadata.{rules.partner_key}")
    return Translation(Outcome.MAPPED, learned_partner=(text(customer, "id"), partner))


def _metadata(thing: Any, key: str) -> str | None:
    metadata = thing.get("metadata") if isinstance(thing, dict) else None
    value = metadata.get(key) if isinstance(metadata, dict) else None
    return partner_value(value)


def _base(event: dict[str, Any], rules: StripeMapping) -> dict[str, Any]:
    return {"source": rules.source, "id": text(event, "id"), "time": at(event["created"])}


def _subscription(
    event: dict[str, Any], sub: dict[str, Any], rules: StripeMapping, known: str | None
) -> Translation:
    partner = _metadata(sub, rules.partner_key) or _metadata(sub.get("customer"), rules.partner_key)
    partner = partner or known
    if partner is None:
        return Translation.unmapped(
            f"no partner of record: set metadata.{rules.partner_key} on the subscription "
            "or its customer"
        )
    ref = {
        "subscription_id": text(sub, "id"),
        "customer_id": text(sub, "customer"),
        "partner_id": partner,
    }
    base = _base(event, rules)
    lines = _lines(sub.get("items"))
    currency = _currency(sub, lines)
    kind = event["type"]
    if kind == "customer.subscription.deleted":
        ended = sub.get("ended_at") or sub.get("canceled_at") or event["created"]
        details = sub.get("cancellation_details") or {}
        reason = details.get("reason") or details.get("feedback")
        data = {**ref, "effective_date": day(ended), "reason": reason}
        return Translation.mapped([lifecycle_event(base, "subscription.cancelled", ref, data)])
    if not lines:
        raise PayloadError("subscription has no items")
    plan, seats, total = _plan(lines[0]), lines[0].quantity, mrr(lines)
    if kind == "customer.subscription.created":
        data = {
            **ref,
            "plan": plan,
            "seats": seats,
            "mrr": money_json(total, currency),
            "start_date": day(sub.get("start_date") or sub.get("created")),
            "term_end": day(_period(sub, "current_period_end")),
        }
        return Translation.mapped([lifecycle_event(base, "subscription.created", ref, data)])
    return _updated(event, sub, rules, base, ref, lines, currency)


def _updated(
    event: dict[str, Any],
    sub: dict[str, Any],
    rules: StripeMapping,
    base: dict[str, Any],
    ref: dict[str, str],
    lines: list[RecurringLine],
    currency: str,
) -> Translation:
    previous = event["data"].get("previous_attributes") or {}
    events: list[dict[str, Any]] = []
    new_total = mrr(lines)
    old_start = previous.get("current_period_start") or _first_item_field(
        previous.get("items"), "current_period_start"
    )
    new_start = _period(sub, "current_period_start")
    rolled = isinstance(old_start, int) and new_start > old_start
    if rolled and lines[0].period_months() >= rules.renewal_min_months:
        data = {
            **ref,
            "plan": _plan(lines[0]),
            "seats": lines[0].quantity,
            "mrr": money_json(new_total, currency),
            "term_start": day(new_start),
            "term_end": day(_period(sub, "current_period_end")),
        }
        events.append(lifecycle_event(base, "subscription.renewed", ref, data))
    if "items" in previous:
        old = _lines(previous["items"])
        if old and _signature(old) != _signature(lines):
            events += _item_changes(base, ref, old, lines, currency)
    if events:
        return Translation.mapped(numbered(events))
    if rolled:
        return Translation.ignored(
            f"a new billing period of a term shorter than {rules.renewal_min_months} months"
        )
    return Translation.ignored("no change Fourfold uses (" + ", ".join(sorted(previous)) + ")")


def _item_changes(
    base: dict[str, Any],
    ref: dict[str, str],
    old: list[RecurringLine],
    new: list[RecurringLine],
    currency: str,
) -> list[dict[str, Any]]:
    """A cross-sell is an added item of a product the subscription did not have (while no
    product left it: that is a plan swap). Any other change is an upsell when the MRR (then
    the seats) goes up, a contraction when it goes down; an added item of a product it
    already had is counted so."""
    events: list[dict[str, Any]] = []
    old_items, old_products = {line.item for line in old}, {line.product for line in old}
    swapped = bool(old_products - {line.product for line in new})
    added = [
        line
        for line in new
        if not swapped and line.item not in old_items and line.product not in old_products
    ]
    new_total = mrr(new)
    for line in added:
        data = {
            **ref,
            "addon": _plan(line),
            "addon_mrr": money_json(line.monthly(), currency),
            "mrr": money_json(new_total, currency),
        }
        events.append(lifecycle_event(base, "subscription.addon_added", ref, data))
    rest = [line for line in new if line not in added]
    old_total, rest_total = mrr(old), mrr(rest)
    old_seats, seats = old[0].quantity, (rest or new)[0].quantity
    old_plan, plan = _plan(old[0]), _plan((rest or new)[0])
    grew = (rest_total, seats) > (old_total, old_seats)
    shrank = (rest_total, seats) < (old_total, old_seats)
    if not (grew or shrank) and plan == old_plan:
        return events
    change = {
        **ref,
        "previous_plan": old_plan,
        "plan": plan,
        "previous_seats": old_seats,
        "seats": seats,
        "previous_mrr": money_json(old_total, currency),
        "mrr": money_json(new_total, currency),
    }
    kind = "subscription.contracted" if shrank else "subscription.expanded"
    events.append(lifecycle_event(base, kind, ref, change))
    return events


def _invoice(event: dict[str, Any], invoice: dict[str, Any], rules: StripeMapping) -> Translation:
    subscription = invoice.get("subscription")
    if subscription is None:  # basil and later
        parent = invoice.get("parent") or {}
        subscription = (parent.get("subscription_details") or {}).get("subscription")
    if isinstance(subscription, dict):
        subscription = subscription.get("id")
    if not isinstance(subscription, str):
        return Translation.ignored("an invoice of no subscription")
    currency = text(invoice, "currency").upper()
    ref = {
        "invoice_id": text(invoice, "id"),
        "subscription_id": subscription,
        "customer_id": text(invoice, "customer"),
    }
    base = _base(event, rules)
    if event["type"] == "invoice.paid":
        paid_at = (invoice.get("status_transitions") or {}).get("paid_at") or event["created"]
        data: dict[str, Any] = {
            **ref,
            "amount": money_json(from_minor(invoice["amount_paid"], currency), currency),
            "paid_at": at(paid_at).isoformat(),
        }
        return Translation.mapped([lifecycle_event(base, "invoice.paid", ref, data)])
    error = invoice.get("last_finalization_error") or {}
    retry = invoice.get("next_payment_attempt")
    data = {
        **ref,
        "amount": money_json(from_minor(invoice["amount_due"], currency), currency),
        "attempt": max(1, int(invoice.get("attempt_count") or 1)),
        "failure_reason": error.get("message"),
        "next_retry_at": at(retry).isoformat() if retry else None,
    }
    return Translation.mapped([lifecycle_event(base, "invoice.payment_failed", ref, data)])


def _lines(items: Any) -> list[RecurringLine]:
    """The recurring lines of `items` (a Stripe list object), in Stripe's order."""
    data = items.get("data") if isinstance(items, dict) else items
    if not isinstance(data, list):
        return []
    lines = []
    for item in data:
        price = item.get("price") or item.get("plan") or {}
        recurring = price.get("recurring") or {}
        interval = recurring.get("interval") or price.get("interval") or "month"
        count = int(recurring.get("interval_count") or price.get("interval_count") or 1)
        usage = recurring.get("usage_type") or price.get("usage_type") or "licensed"
        currency = text(price, "currency")
        unit = price.get("unit_amount_decimal") or price.get("unit_amount")
        quantity = item.get("quantity")
        # Metered and tiered prices have no fixed monthly amount: they count as zero MRR.
        unit_amount = from_minor(unit, currency) if unit is not None else Decimal(0)
        seats = int(quantity) if isinstance(quantity, int) else 0
        lines.append(
            RecurringLine(
                item=item.get("id") or text(price, "id"),
                key=price.get("lookup_key") or text(price, "id"),
                product=_product(price),
                unit_amount=unit_amount if usage == "licensed" else Decimal(0),
                quantity=seats,
                interval=interval,
                interval_count=count,
            )
        )
    return lines


def _product(price: dict[str, Any]) -> str:
    product = price.get("product")
    if isinstance(product, dict):
        product = product.get("id")
    return product if isinstance(product, str) else text(price, "id")


def _plan(line: RecurringLine) -> str:
    return line.key


def _signature(lines: list[RecurringLine]) -> list[tuple[str, str, Decimal, int, str, int]]:
    return [
        (ln.key, ln.product, ln.unit_amount, ln.quantity, ln.interval, ln.interval_count)
        for ln in lines
    ]


def _currency(sub: dict[str, Any], lines: list[RecurringLine]) -> str:
    currency = sub.get("currency")
    if not isinstance(currency, str):
        items = (sub.get("items") or {}).get("data") or [{}]
        currency = ((items[0].get("price") or {}).get("currency")) or "usd"
    return currency.upper()


def _period(sub: dict[str, Any], name: str) -> int:
    """The subscription's billing period bound: on it (2024-06-20) or its first item."""
    value = sub.get(name)
    if value is None:
        value = _first_item_field(sub.get("items"), name)
    if not isinstance(value, int):
        raise PayloadError(f"subscription has no {name}")
    return value


def _first_item_field(items: Any, name: str) -> Any:
    data = items.get("data") if isinstance(items, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return data[0].get(name)
    return None
