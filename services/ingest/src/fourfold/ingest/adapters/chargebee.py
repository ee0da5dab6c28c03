"""Chargebee events → Fourfold events: pure functions of the payload and the last state.

Chargebee API v2 webhooks carry the whole objects after the change (`content.subscription`,
`content.customer`, `content.invoice`, `content.transaction`) and no previous values, so the
adapter keeps each subscription's last state (`adapter_subscriptions`) and compares with
it: the state travels in and out of this module as plain JSON. Product Catalog 2.0
(`subscription_items`) and 1.0 (`plan_id`, `addons`) are read. The mapping table is in
docs/adapters.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from fourfold.ingest.adapters.amounts import AmountError, RecurringLine, from_minor, mrr
from fourfold.ingest.adapters.translation import (
    KeptState,
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
        "subscription_created",
        "subscription_changed",
        "subscription_renewed",
        "subscription_cancelled",
    }
)
PAYMENT_TYPES: Final = frozenset({"payment_succeeded", "payment_failed"})


@dataclass(frozen=True, slots=True)
class ChargebeeMapping:
    source: str
    partner_field: str
    renewal_min_months: int


def subscription_of(event: dict[str, Any]) -> str | None:
    """The subscription whose last state a subscription event needs."""
    if event.get("event_type") not in SUBSCRIPTION_TYPES:
        return None
    found = (event.get("content") or {}).get("subscription", {}).get("id")
    return found if isinstance(found, str) else None


def translate(
    event: dict[str, Any],
    rules: ChargebeeMapping,
    *,
    last: tuple[dict[str, Any], datetime] | None,
) -> Translation:
    """The Fourfold events one Chargebee event stands for; PayloadError on a bad shape."""
    kind = event.get("event_type")
    if kind not in SUBSCRIPTION_TYPES | PAYMENT_TYPES:
        return Translation.ignored(f"Chargebee event type {kind!r} is not used")
    try:
        content = obj(event, "content")
        if kind in PAYMENT_TYPES:
            return _payment(event, content, rules)
        return _subscription(event, content, rules, last)
    except (AmountError, KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"{type(exc).__name__}: {exc}") from exc


def _partner(thing: Any, field: str) -> str | None:
    if not isinstance(thing, dict):
        return None
    for value in (thing.get(field), (thing.get("meta_data") or {}).get(field)):
        if partner_value(value) is not None:
            return partner_value(value)
    return None


def _subscription(
    event: dict[str, Any],
    content: dict[str, Any],
    rules: ChargebeeMapping,
    last: tuple[dict[str, Any], datetime] | None,
) -> Translation:
    sub = obj(content, "subscription")
    partner = _partner(sub, rules.partner_field) or _partner(
        content.get("customer"), rules.partner_field
    )
    if partner is None:
        return Translation.unmapped(
            f"no partner of record: set {rules.partner_field} on the subscription or its "
            "customer (a custom field or a meta_data key)"
        )
    kind = event["event_type"]
    occurred = at(event["occurred_at"])
    ref = {
        "subscription_id": text(sub, "id"),
        "customer_id": text(sub, "customer_id"),
        "partner_id": partner,
    }
    base = {"source": rules.source, "id": text(event, "id"), "time": occurred}
    currency = text(sub, "currency_code").upper()
    lines = _lines(sub, currency)
    state = {"event_id": base["id"], "current": _state(lines), "previous": None}
    if kind == "subscription_cancelled":
        data = {
            **ref,
            "effective_date": day(sub.get("cancelled_at") or event["occurred_at"]),
            "reason": sub.get("cancel_reason") or sub.get("cancel_reason_code"),
        }
        return Translation.mapped([lifecycle_event(base, "subscription.cancelled", ref, data)])
    if not lines:
        raise PayloadError("subscription has no plan")
    plan, seats, total = lines[0].key, lines[0].quantity, mrr(lines)
    kept = KeptState(ref["subscription_id"], state, occurred)
    if kind == "subscription_created":
        data = {
            **ref,
            "plan": plan,
            "seats": seats,
            "mrr": money_json(total, currency),
            "start_date": day(sub.get("started_at") or sub.get("created_at")),
            "term_end": day(sub.get("current_term_end")),
        }
        return _with_state(
            Translation.mapped([lifecycle_event(base, "subscription.created", ref, data)]), kept
        )
    if kind == "subscription_renewed":
        if lines[0].period_months() < rules.renewal_min_months:
            return Translation.ignored(
                f"a new billing period of a term shorter than {rules.renewal_min_months} months"
            )
        data = {
            **ref,
            "plan": plan,
            "seats": seats,
            "mrr": money_json(total, currency),
            "term_start": day(sub.get("current_term_start")),
            "term_end": day(sub.get("current_term_end")),
        }
        return _with_state(
            Translation.mapped([lifecycle_event(base, "subscription.renewed", ref, data)]), kept
        )
    return _changed(base, ref, lines, currency, state, kept, last)


def _changed(
    base: dict[str, Any],
    ref: dict[str, str],
    lines: list[RecurringLine],
    currency: str,
    state: dict[str, Any],
    kept: KeptState,
    last: tuple[dict[str, Any], datetime] | None,
) -> Translation:
    if last is None:
        return _with_state(
            Translation.unmapped(
                "no earlier state of this subscription to compare with (its "
                "subscription_created was not received)"
            ),
            kept,
        )
    stored, as_of = last
    if stored.get("event_id") == base["id"]:  # a redelivery: compare with what it replaced
        before = stored.get("previous")
        if before is None:
            return Translation.ignored("a redelivery of a change with nothing to compare")
    elif as_of >= base["time"]:
        return Translation.ignored(
            "older than the state already received (out of order, or a redelivery)"
        )
    else:
        before = stored.get("current")
    old = _from_state(before)
    state["previous"] = before
    events = _item_changes(base, ref, old, lines, currency)
    if not events:
        return _with_state(Translation.ignored("no change Fourfold uses"), kept)
    return _with_state(Translation.mapped(numbered(events)), kept)


def _item_changes(
    base: dict[str, Any],
    ref: dict[str, str],
    old: list[RecurringLine],
    new: list[RecurringLine],
    currency: str,
) -> list[dict[str, Any]]:
    """A new add-on is a cross-sell; otherwise MRR (then seats) up is an upsell, down a
    contraction."""
    events: list[dict[str, Any]] = []
    old_keys = {line.key for line in old}
    added = [line for line in new[1:] if line.key not in old_keys]
    new_total = mrr(new)
    for line in added:
        data = {
            **ref,
            "addon": line.key,
            "addon_mrr": money_json(line.monthly(), currency),
            "mrr": money_json(new_total, currency),
        }
        events.append(lifecycle_event(base, "subscription.addon_added", ref, data))
    rest = [line for line in new if line not in added]
    old_total, rest_total = mrr(old), mrr(rest)
    grew = (rest_total, rest[0].quantity) > (old_total, old[0].quantity)
    shrank = (rest_total, rest[0].quantity) < (old_total, old[0].quantity)
    if not (grew or shrank) and rest[0].key == old[0].key:
        return events
    change = {
        **ref,
        "previous_plan": old[0].key,
        "plan": rest[0].key,
        "previous_seats": old[0].quantity,
        "seats": rest[0].quantity,
        "previous_mrr": money_json(old_total, currency),
        "mrr": money_json(new_total, currency),
    }
    kind = "subscription.contracted" if shrank else "subscription.expanded"
    events.append(lifecycle_event(base, kind, ref, change))
    return events


def _payment(
    event: dict[str, Any], content: dict[str, Any], rules: ChargebeeMapping
) -> Translation:
    invoice = obj(content, "invoice")
    subscription = invoice.get("subscription_id")
    if not isinstance(subscription, str):
        return Translation.ignored("a payment of no subscription")
    transaction = content.get("transaction") or {}
    currency = text(invoice, "currency_code").upper()
    ref = {
        "invoice_id": text(invoice, "id"),
        "subscription_id": subscription,
        "customer_id": text(invoice, "customer_id"),
    }
    base = {"source": rules.source, "id": text(event, "id"), "time": at(event["occurred_at"])}
    if event["event_type"] == "payment_succeeded":
        amount = transaction.get("amount", invoice.get("amount_paid"))
        paid = invoice.get("paid_at") or transaction.get("date") or event["occurred_at"]
        data: dict[str, Any] = {
            **ref,
            "amount": money_json(from_minor(amount, currency), currency),
            "paid_at": at(paid).isoformat(),
        }
        return Translation.mapped([lifecycle_event(base, "invoice.paid", ref, data)])
    attempts = invoice.get("dunning_attempts") or []
    numbers = [a.get("attempt") for a in attempts if isinstance(a.get("attempt"), int)]
    retry = invoice.get("next_retry_at")
    data = {
        **ref,
        "amount": money_json(
            from_minor(invoice.get("amount_due", transaction.get("amount")), currency), currency
        ),
        "attempt": max(numbers) + 1 if numbers else 1,
        "failure_reason": transaction.get("error_text") or transaction.get("failure_reason"),
        "next_retry_at": at(retry).isoformat() if retry else None,
    }
    return Translation.mapped([lifecycle_event(base, "invoice.payment_failed", ref, data)])


def _lines(sub: dict[str, Any], currency: str) -> list[RecurringLine]:
    """The plan first, then add-ons; one-off charges are not recurring and are left out."""
    interval = sub.get("billing_period_unit") or "month"
    count = int(sub.get("billing_period") or 1)
    items = sub.get("subscription_items")
    raw: list[tuple[str, str, Any, Any, Any]] = []  # (type, key, quantity, unit, amount)
    if isinstance(items, list):  # Product Catalog 2.0
        for item in items:
            raw.append(
                (
                    item.get("item_type", "plan"),
                    text(item, "item_price_id"),
                    item.get("quantity", 1),
                    item.get("unit_price"),
                    item.get("amount"),
                )
            )
    elif sub.get("plan_id"):  # Product Catalog 1.0
        raw.append(
            (
                "plan",
                text(sub, "plan_id"),
                sub.get("plan_quantity", 1),
                sub.get("plan_unit_price"),
                sub.get("plan_amount"),
            )
        )
        for addon in sub.get("addons") or []:
            raw.append(
                (
                    "addon",
                    text(addon, "id"),
                    addon.get("quantity", 1),
                    addon.get("unit_price"),
                    addon.get("amount"),
                )
            )
    raw = [r for r in raw if r[0] in {"plan", "addon"}]
    raw.sort(key=lambda r: r[0] != "plan")  # the plan first, order kept otherwise
    lines = []
    for _type, key, quantity, unit, amount in raw:
        seats = int(quantity) if isinstance(quantity, int) else 1
        lines.append(
            RecurringLine(
                item=key,
                key=key,
                product=key,
                unit_amount=from_minor(unit, currency) if unit is not None else Decimal(0),
                quantity=seats,
                interval=interval,
                interval_count=count,
                amount=from_minor(amount, currency) if amount is not None else None,
            )
        )
    return lines


def _state(lines: list[RecurringLine]) -> list[dict[str, Any]]:
    return [
        {
            "key": ln.key,
            "unit_amount": str(ln.unit_amount),
            "quantity": ln.quantity,
            "interval": ln.interval,
            "interval_count": ln.interval_count,
            "amount": None if ln.amount is None else str(ln.amount),
        }
        for ln in lines
    ]


def _from_state(state: Any) -> list[RecurringLine]:
    if not isinstance(state, list) or not state:
        raise PayloadError("the kept state of the subscription is unreadable")
    return [
        RecurringLine(
            item=s["key"],
            key=s["key"],
            product=s["key"],
            unit_amount=Decimal(s["unit_amount"]),
            quantity=s["quantity"],
            interval=s["interval"],
            interval_count=s["interval_count"],
            amount=None if s["amount"] is None else Decimal(s["amount"]),
        )
        for s in state
    ]


def _with_state(translation: Translation, kept: KeptState) -> Translation:
    return Translation(
        translation.outcome,
        translation.events,
        translation.reason,
        translation.learned_partner,
        kept,
    )


__all__ = ["ChargebeeMapping", "Outcome", "subscription_of", "translate"]
