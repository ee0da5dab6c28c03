"""The simulated vendor on Stripe: its billing events as the Stripe events Stripe would send.

`StripeTimeline(timeline)` gives the same run as `timeline`, day by day, with every
subscription and invoice event replaced by the Stripe event (API version 2024-06-20, built
with `fourfold.testing.billing_samples`, the shapes the ingest adapter is tested on) that
stands for it; usage, milestones, feedback and partner events stay CloudEvents for the
public ingest API. A Stripe event is told apart by its `"object": "event"`.

How the vendor's catalogue looks in Stripe:

- a subscription `sub-<customer>` of customer `<customer>` (the simulator's ids, so both
  outputs name the same customers and subscriptions), its partner of record in
  `metadata.fourfold_partner_id`;
- one item per product: the plan first (price lookup key = the plan's name, product
  `prod_<plan>`), then each add-on (`prod_<addon>`), each at the customer's seats; prices are
  per seat and per term (a year, or the six months of a renewer's first term), so the MRR
  the adapter derives is the simulator's to the cent;
- a seat change, an upgrade or an add-on is `customer.subscription.updated` with the old
  items in `previous_attributes`; a renewal is `updated` with the old period (and, when its
  price or seats change, the old items: a renewal with more seats is mapped to
  `subscription.renewed` and `subscription.expanded`);
- a cancellation is what Stripe sends for `cancel_at`: `updated` on the notice day (the
  adapter ignores it) and `customer.subscription.deleted` at 00:00 on the effective day;
- invoices are `invoice.paid` and `invoice.payment_failed` with amounts in minor units.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fourfold.simulator.billing import Contract, Terms
from fourfold.simulator.timeline import Timeline, day_by_day
from fourfold.simulator.vendor import ADDONS, PLANS
from fourfold.simulator.wire import Planned, midnight
from fourfold.testing.billing_samples import (
    StripeLine,
    stripe_event,
    stripe_invoice,
    stripe_subscription,
)

PARTNER_METADATA_KEY = "fourfold_partner_id"
"""ingest's default `FOURFOLD_INGEST_STRIPE_PARTNER_METADATA_KEY`."""
SUBSCRIPTION_TYPES = frozenset(
    {
        "subscription.created",
        "subscription.expanded",
        "subscription.contracted",
        "subscription.addon_added",
        "subscription.renewed",
        "subscription.cancelled",
    }
)
INVOICE_TYPES = frozenset({"invoice.paid", "invoice.payment_failed"})


def is_stripe(event: dict[str, Any]) -> bool:
    """A Stripe event (for the webhook route), not a CloudEvent (for /v1/events)."""
    return event.get("object") == "event"


def unix(at: datetime) -> int:
    return int(at.timestamp())


def minor(amount: Decimal) -> int:
    """Cents of an amount in one of the simulated currencies (EUR, USD, GBP)."""
    return int((amount * 100).to_integral_value())


class StripeTimeline:
    """`timeline`'s run with its billing as Stripe events: the same `start` and `events`."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.start = timeline.start
        self._contracts = {c.customer.customer_id: c for c in timeline.contracts}

    def events(self, days: int | None = None, *, first_day: int = 0) -> Iterator[Planned]:
        """Every event from `first_day` on, in time order; forever when `days` is None."""
        return day_by_day(self.day, days, first_day=first_day)

    def day(self, n: int) -> list[Planned]:
        """Day `n` of the run: its events, billing ones as Stripe events, by time."""
        day = self.start + timedelta(days=n)
        found = [self._shaped(p) for p in self.timeline.day(n)]
        found += [self._deleted(c) for c in self.timeline.contracts if _ends_on(c, day)]
        return sorted(found, key=lambda p: (p.at, p.event["id"]))

    def _shaped(self, planned: Planned) -> Planned:
        kind = planned.event["type"]
        data = planned.event["data"]
        if kind in INVOICE_TYPES:
            return Planned(planned.at, self._invoice(planned, data))
        if kind not in SUBSCRIPTION_TYPES:
            return planned
        contract = self._contracts[data["customer_id"]]
        at = planned.at
        before = contract.terms_at(at - timedelta(microseconds=1))
        after = contract.terms_at(at)
        eid = _event_id(planned.event["id"])
        if kind == "subscription.created":
            sub = _subscription(contract, after, _period(contract, at))
            return Planned(at, stripe_event(eid, "customer.subscription.created", sub, **_c(at)))
        if kind == "subscription.cancelled":
            sub = _subscription(contract, after, _period(contract, at))
            assert contract.end is not None
            sub.update(cancel_at=unix(midnight(contract.end)), canceled_at=unix(at))
            sub["cancellation_details"]["reason"] = data.get("reason")
            previous: dict[str, Any] = {"cancel_at": None, "canceled_at": None}
            return Planned(at, _updated(eid, sub, previous, at))
        period = _period(contract, at)
        sub = _subscription(contract, after, period)
        if kind == "subscription.renewed":
            previous_period = _period(contract, midnight(period[0]) - timedelta(microseconds=1))
            previous = {"current_period_start": unix(midnight(previous_period[0]))}
            if _lines(contract, before, previous_period) != _lines(contract, after, period):
                previous["items"] = _subscription(contract, before, previous_period)["items"]
            return Planned(at, _updated(eid, sub, previous, at))
        previous = {"items": _subscription(contract, before, period)["items"]}
        return Planned(at, _updated(eid, sub, previous, at))

    def _invoice(self, planned: Planned, data: dict[str, Any]) -> dict[str, Any]:
        amount = data["amount"]
        currency = amount["currency"].lower()
        at = planned.at
        paid = planned.event["type"] == "invoice.paid"
        retry = data.get("next_retry_at")
        invoice = stripe_invoice(
            data["invoice_id"],
            customer=data["customer_id"],
            subscription=data["subscription_id"],
            amount=minor(Decimal(amount["amount"])),
            currency=currency,
            paid_at=unix(at) if paid else None,
            attempt_count=int(data.get("attempt", 1)),
            next_payment_attempt=None if retry is None else unix(datetime.fromisoformat(retry)),
        )
        invoice.update(created=unix(at), account_name="Simulated Vendor Ltd")
        if not paid:
            invoice["last_finalization_error"] = {"message": data.get("failure_reason")}
        kind = planned.event["type"]
        return stripe_event(_event_id(planned.event["id"]), kind, invoice, **_c(at))

    def _deleted(self, contract: Contract) -> Planned:
        cancellation = contract.customer.journey.cancellation
        assert contract.end is not None
        assert cancellation is not None
        at = midnight(contract.end)
        terms = contract.terms_at(at)
        sub = _subscription(contract, terms, _period(contract, at - timedelta(microseconds=1)))
        notice = contract.start + timedelta(days=cancellation.notice_age)
        sub.update(status="canceled", ended_at=unix(at), canceled_at=unix(midnight(notice)))
        sub["cancellation_details"]["reason"] = cancellation.reason
        key = f"{contract.customer.customer_id}/stripe/deleted"
        eid = _event_id(self.timeline.wire.event_id(key))
        return Planned(at, stripe_event(eid, "customer.subscription.deleted", sub, **_c(at)))


def _c(at: datetime) -> dict[str, Any]:
    return {"created": unix(at)}


def _ends_on(contract: Contract, day: date) -> bool:
    return contract.end == day and contract.customer.journey.cancellation is not None


def _event_id(cloud_event_id: str) -> str:
    return "evt_" + cloud_event_id.replace("-", "")


def _updated(
    eid: str, sub: dict[str, Any], previous: dict[str, Any], at: datetime
) -> dict[str, Any]:
    return stripe_event(
        eid, "customer.subscription.updated", sub, previous_attributes=previous, **_c(at)
    )


def _period(contract: Contract, at: datetime) -> tuple[date, date]:
    """The term in force at `at`: its first day and the day after its last."""
    begin = contract.start
    for end in contract.term_ends:
        if midnight(end) > at:
            return begin, end
        begin = end
    return begin, contract.term_ends[-1]


def _lines(contract: Contract, terms: Terms, period: tuple[date, date]) -> list[StripeLine]:
    """The subscription's items under `terms`: the plan, then its add-ons, priced per term."""
    begin, end = period
    months = (end.year - begin.year) * 12 + end.month - begin.month
    interval, interval_count = ("year", 1) if months == 12 else ("month", months)
    currency = contract.customer.currency.lower()
    sub = f"sub-{contract.customer.customer_id}"
    products = [(terms.plan, PLANS[terms.plan].price_per_seat)]
    products += [(addon, ADDONS[addon]) for addon in terms.addons]
    return [
        StripeLine(
            item_id=f"si_{sub}_{product}",
            price_id=f"price_{product}_{interval}{interval_count}_{currency}",
            product=f"prod_{product}",
            unit_amount=minor(per_seat * months),
            quantity=terms.seats,
            interval=interval,
            interval_count=interval_count,
            currency=currency,
            lookup_key=product,
        )
        for product, per_seat in products
    ]


def _subscription(contract: Contract, terms: Terms, period: tuple[date, date]) -> dict[str, Any]:
    customer = contract.customer
    begin, end = period
    return stripe_subscription(
        f"sub-{customer.customer_id}",
        customer.customer_id,
        _lines(contract, terms, period),
        metadata={PARTNER_METADATA_KEY: customer.partner_id},
        start=unix(contract.created_at),
        period_start=unix(midnight(begin)),
        period_end=unix(midnight(end)),
    )
