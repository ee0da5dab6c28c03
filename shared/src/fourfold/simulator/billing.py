"""A simulated customer's subscription over time: its changes, terms, end and invoices.

`Contract` turns a customer's journey into dated billing facts once; the timeline asks it
what is in force on a day and which subscription and invoice events fall on that day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fourfold.simulator.archetypes import Archetype
from fourfold.simulator.vendor import ADDONS, PLANS, UPGRADES, Customer
from fourfold.simulator.wire import (
    BILLING_SOURCE,
    Planned,
    Wire,
    add_months,
    at_time,
    instant,
    money,
)

RENEWAL_TERMS = 40
"""Renewals planned ahead: forty years of a live demo, far beyond any history."""
FIRST_RETRY_DAYS = 3


@dataclass(frozen=True)
class Terms:
    """What the customer pays for at one moment."""

    plan: str
    seats: int
    addons: tuple[str, ...] = ()

    @property
    def features(self) -> int:
        return len(PLANS[self.plan].features)

    def mrr(self) -> Decimal:
        per_seat = PLANS[self.plan].price_per_seat + sum(
            (ADDONS[a] for a in self.addons), Decimal(0)
        )
        return per_seat * self.seats


@dataclass(frozen=True)
class Change:
    at: datetime
    after: Terms
    event: Planned


class Contract:
    """One customer's subscription, planned from its journey for a run starting at `run_start`."""

    def __init__(self, customer: Customer, *, run_start: date, wire: Wire, seed: int) -> None:
        self.customer = customer
        self.start = run_start + timedelta(days=customer.signup_day)
        self._wire = wire
        self._seed = seed
        self._ref = {
            "subscription_id": f"sub-{customer.customer_id}",
            "customer_id": customer.customer_id,
            "partner_id": customer.partner_id,
        }
        journey = customer.journey
        self.term_ends = [add_months(self.start, journey.term_months)]
        for _ in range(RENEWAL_TERMS):
            self.term_ends.append(add_months(self.term_ends[-1], 12))
        self.created_at = at_time(self.start, 9 + self._rng("created").randrange(8))
        self.end = self._end()
        self.changes = self._plan_changes()
        self._changes_on: dict[date, list[Planned]] = {}
        for change in self.changes:
            self._changes_on.setdefault(change.at.date(), []).append(change.event)
        self._invoices: dict[int, list[Planned]] = {}

    def age(self, day: date) -> int:
        return (day - self.start).days

    def active_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)

    def terms_at(self, at: datetime) -> Terms:
        """The terms in force at `at` (the first ones before the subscription starts)."""
        current = self.changes[0].after
        for change in self.changes:
            if change.at > at:
                break
            current = change.after
        return current

    def billing_events(self, day: date) -> list[Planned]:
        """The subscription and invoice events dated `day`."""
        found = list(self._changes_on.get(day, ()))
        near = self._invoices_near(day)
        for index in [i for i in self._invoices if i < near.start]:
            del self._invoices[index]  # settled: no event of it is after `day`
        for index in near:
            if index not in self._invoices:
                self._invoices[index] = self._invoice_events(index)
            found += [e for e in self._invoices[index] if e.at.date() == day]
        return found

    def _rng(self, what: str) -> random.Random:
        return random.Random(f"{self._seed}:{self.customer.customer_id}:{what}")

    def _end(self) -> date | None:
        cancellation = self.customer.journey.cancellation
        if cancellation is None:
            return None
        if cancellation.effective_age is not None:
            return self.start + timedelta(days=cancellation.effective_age)
        notice = self.start + timedelta(days=cancellation.notice_age)
        return next(end for end in self.term_ends if end > notice)

    def _plan_changes(self) -> list[Change]:
        customer, journey = self.customer, self.customer.journey
        terms = Terms(customer.plan, customer.seats)
        changes = [Change(self.created_at, terms, self._created(terms))]
        moves: list[tuple[int, str, Any]] = [(c.age, "seats", c) for c in journey.seat_changes]
        if journey.addon_age is not None:
            moves.append((journey.addon_age, "addon", None))
        notice_age = journey.cancellation.notice_age if journey.cancellation else None
        for age, kind, change in sorted(moves, key=lambda m: m[0]):
            if notice_age is not None and age >= notice_age:
                break
            at = at_time(
                self.start + timedelta(days=age), 10 + self._rng(f"move{age}").randrange(7)
            )
            # Two moves on one day must keep their order once sorted by time: each change's
            # previous_* is what the one before it left.
            at = max(at, changes[-1].at + timedelta(minutes=1))
            before = terms
            if kind == "addon":
                addon = self._rng("addon").choice(sorted(ADDONS))
                terms = Terms(terms.plan, terms.seats, (*terms.addons, addon))
                changes.append(Change(at, terms, self._addon(at, before, terms, addon)))
                continue
            plan = UPGRADES[terms.plan] if change.upgrade else terms.plan
            terms = Terms(plan, max(1, round(terms.seats * change.factor)), terms.addons)
            changes.append(Change(at, terms, self._resized(at, before, terms)))
        for index, term_start in enumerate(self.term_ends[:-1]):
            if not journey.renews or (self.end is not None and term_start >= self.end):
                break
            if journey.archetype is Archetype.RENEWS:  # renews with a few more seats
                bump = 1 + self._rng(f"renewal{index}").uniform(0, 0.15)
                terms = Terms(terms.plan, round(terms.seats * bump), terms.addons)
            at = at_time(term_start, 2)
            event = self._renewed(at, terms, term_start, self.term_ends[index + 1])
            changes.append(Change(at, terms, event))
        if journey.cancellation is not None and self.end is not None:
            notice = self.start + timedelta(days=journey.cancellation.notice_age)
            at = at_time(notice, 9 + self._rng("cancel").randrange(8))
            changes.append(Change(at, terms, self._cancelled(at, journey.cancellation.reason)))
        return sorted(changes, key=lambda c: c.at)

    def _event(self, type_: str, at: datetime, data: dict[str, Any], key: str) -> Planned:
        cid = self.customer.customer_id
        return self._wire.event(
            source=BILLING_SOURCE, type_=type_, at=at, data=data, key=f"{cid}/{key}"
        )

    def _money(self, amount: Decimal) -> dict[str, str]:
        return money(amount, self.customer.currency)

    def _created(self, terms: Terms) -> Planned:
        data = {
            **self._ref,
            "plan": terms.plan,
            "seats": terms.seats,
            "mrr": self._money(terms.mrr()),
            "start_date": self.start.isoformat(),
            "term_end": self.term_ends[0].isoformat(),
            "features_available": terms.features,
        }
        return self._event("subscription.created", self.created_at, data, "created")

    def _resized(self, at: datetime, before: Terms, after: Terms) -> Planned:
        kind = "expanded" if after.seats >= before.seats else "contracted"
        data = {
            **self._ref,
            "previous_plan": before.plan,
            "plan": after.plan,
            "previous_seats": before.seats,
            "seats": after.seats,
            "previous_mrr": self._money(before.mrr()),
            "mrr": self._money(after.mrr()),
        }
        return self._event(f"subscription.{kind}", at, data, f"{kind}/{at.date()}")

    def _addon(self, at: datetime, before: Terms, after: Terms, addon: str) -> Planned:
        data = {
            **self._ref,
            "addon": addon,
            "addon_mrr": self._money(after.mrr() - before.mrr()),
            "mrr": self._money(after.mrr()),
        }
        return self._event("subscription.addon_added", at, data, f"addon/{addon}")

    def _renewed(self, at: datetime, terms: Terms, term_start: date, term_end: date) -> Planned:
        data = {
            **self._ref,
            "plan": terms.plan,
            "seats": terms.seats,
            "mrr": self._money(terms.mrr()),
            "term_start": term_start.isoformat(),
            "term_end": term_end.isoformat(),
        }
        return self._event("subscription.renewed", at, data, f"renewed/{term_start}")

    def _cancelled(self, at: datetime, reason: str) -> Planned:
        assert self.end is not None
        data = {**self._ref, "effective_date": self.end.isoformat(), "reason": reason}
        return self._event("subscription.cancelled", at, data, "cancelled")

    def _invoices_near(self, day: date) -> range:
        """Indexes of the monthly invoices that may still have an event on `day`."""
        months = (day.year - self.start.year) * 12 + day.month - self.start.month
        return range(max(0, months - 1), max(0, months + 1))

    def _invoice_events(self, index: int) -> list[Planned]:
        """One monthly invoice: paid when due, or failed attempts first and paid days later."""
        due = add_months(self.start, index)
        if due < self.start or (self.end is not None and due >= self.end):
            return []
        rng = self._rng(f"invoice{index}")
        issued = self.created_at + timedelta(minutes=30) if index == 0 else at_time(due, 6)
        amount = self._money(self.terms_at(issued).mrr())
        invoice = {
            "invoice_id": f"inv-{self.customer.customer_id}-{index + 1:03d}",
            "subscription_id": self._ref["subscription_id"],
            "customer_id": self.customer.customer_id,
            "amount": amount,
        }
        key = f"invoice/{index}"
        fails = index > 0 and rng.random() < self.customer.journey.failure_rate
        attempts = (1 if rng.random() < 0.5 else 2) if fails else 0
        events = []
        for attempt in range(1, attempts + 1):
            failed_at = issued + timedelta(days=FIRST_RETRY_DAYS * (attempt - 1))
            data = {
                **invoice,
                "attempt": attempt,
                "failure_reason": rng.choice(["card_declined", "insufficient_funds"]),
                "next_retry_at": instant(failed_at + timedelta(days=FIRST_RETRY_DAYS)),
            }
            events.append(
                self._event("invoice.payment_failed", failed_at, data, f"{key}/failed/{attempt}")
            )
        paid_at = issued
        if attempts:
            late = FIRST_RETRY_DAYS * (attempts - 1) + rng.randint(1, 6)
            paid_at = at_time((issued + timedelta(days=late)).date(), 9 + rng.randrange(8))
        events.append(
            self._event("invoice.paid", paid_at, {**invoice, "paid_at": instant(paid_at)}, key)
        )
        return events
