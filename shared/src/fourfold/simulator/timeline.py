"""The simulated vendor's events, day by day: a pure, seeded generator.

Day `n` of a run starting on `start` (a UTC date) holds the events whose time falls on that
day, in time order. Every random draw comes from a generator seeded with the run's seed and
what is being drawn (a customer, a day, an invoice), so a day's events do not depend on which
days were generated before it: a live run may begin anywhere and a run is reproducible to the
byte.

What happens on a customer's day, besides its billing (`billing.Contract`):

- usage of the previous day, reported just after midnight: `active_users` every day (low at
  weekends), `seats_used` weekly, and `feature:<name>` for each feature in use when a new one
  is adopted and every four weeks;
- onboarding milestones on the days the journey plans them;
- an NPS survey answered about every quarter, a CSAT answer after training.

Partners' certifications come on the day they are earned (those held before the run on day 0).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from itertools import count
from typing import Any

from fourfold.events.activity import Milestone
from fourfold.simulator.archetypes import Archetype
from fourfold.simulator.billing import Contract
from fourfold.simulator.vendor import FEATURES, PLANS, Vendor
from fourfold.simulator.wire import (
    PARTNER_SOURCE,
    PRODUCT_SOURCE,
    Planned,
    Wire,
    at_time,
    instant,
    midnight,
)

SEATS_EVERY_DAYS = 7
FEATURES_EVERY_DAYS = 28
NPS_FIRST_AGE = 30
NPS_EVERY_DAYS = 90
NPS_RESPONSE_RATE = 0.75
CSAT_AFTER = Milestone.USERS_TRAINED
FIRST_START = date(1970, 1, 1)
LAST_START = date(2150, 12, 31)
"""Runs start inside the contracts' years (1970..2199), with decades to spare for renewals."""


class Timeline:
    """The events of `vendor` for a run whose day 0 is `start`."""

    def __init__(self, vendor: Vendor, *, start: date) -> None:
        if not FIRST_START <= start <= LAST_START:
            raise ValueError(f"start must be within {FIRST_START}..{LAST_START}")
        self.vendor = vendor
        self.start = start
        self._seed = vendor.seed
        self._wire = Wire(seed=vendor.seed, start=start)
        self.contracts = tuple(
            Contract(c, run_start=start, wire=self._wire, seed=vendor.seed)
            for c in vendor.customers
        )
        self._report_minute = {
            c.customer_id: self._rng(c.customer_id, "minute").randrange(60)
            for c in vendor.customers
        }
        self._feature_order: dict[str, list[str]] = {}
        for customer in vendor.customers:
            order = list(FEATURES)
            self._rng(customer.customer_id, "features").shuffle(order)
            self._feature_order[customer.customer_id] = order

    @property
    def wire(self) -> Wire:
        """The run's event builder (its ids are the run's name-based UUIDs)."""
        return self._wire

    def events(self, days: int | None = None, *, first_day: int = 0) -> Iterator[Planned]:
        """Every event from `first_day` on, in time order; forever when `days` is None."""
        return day_by_day(self.day, days, first_day=first_day)

    def day(self, n: int) -> list[Planned]:
        """The events dated day `n`, ordered by time (ties by id, which is stable)."""
        day = self.start + timedelta(days=n)
        found = self._certifications(n, day)
        for contract in self.contracts:
            if contract.start > day:
                continue
            found += contract.billing_events(day)
            found += self._usage(contract, day - timedelta(days=1))
            if contract.active_on(day):
                found += self._activity(contract, day)
        return sorted(found, key=lambda p: (p.at, p.event["id"]))

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self._seed, *parts)))

    def _certifications(self, n: int, day: date) -> list[Planned]:
        found = []
        for index, partner in enumerate(self.vendor.partners):
            for cert in partner.certifications:
                if cert.day != n:
                    continue
                at = at_time(day, 0, index % 60) if n == 0 else at_time(day, 11, index % 60)
                data = {
                    "partner_id": partner.partner_id,
                    "certification": cert.name,
                    "level": cert.level,
                    "certified_at": instant(at),
                }
                found.append(
                    self._wire.event(
                        source=PARTNER_SOURCE,
                        type_="partner.certified",
                        at=at,
                        data=data,
                        key=f"{partner.partner_id}/certified/{cert.name}/{cert.level}",
                    )
                )
        return found

    def _usage(self, contract: Contract, day: date) -> list[Planned]:
        """What the product reports about `day`, just after it ends."""
        if not contract.active_on(day):
            return []
        customer = contract.customer
        cid = customer.customer_id
        rng = self._rng(cid, "usage", day)
        age = contract.age(day)
        terms = contract.terms_at(midnight(day + timedelta(days=1)))
        used = _seats_used(contract, age, terms.seats, rng)
        weekday = day.weekday() < 5
        active = round(used * (rng.uniform(0.8, 1.0) if weekday else rng.uniform(0.1, 0.3)))
        reported = at_time(day + timedelta(days=1), 0, self._report_minute[cid])
        found = [self._usage_event(contract, reported, day, "active_users", active)]
        if age % SEATS_EVERY_DAYS == 0:
            found.append(self._usage_event(contract, reported, day, "seats_used", used))
        features = self._features_in_use(contract, age, terms.plan)
        earlier = self._features_in_use(contract, age - 1, terms.plan) if age else []
        report = features if age % FEATURES_EVERY_DAYS == 0 else features[len(earlier) :]
        for feature in report:
            uses = rng.randint(1, 3 * max(1, used))
            found.append(self._usage_event(contract, reported, day, f"feature:{feature}", uses))
        return found

    def _usage_event(
        self, contract: Contract, at: datetime, day: date, metric: str, value: int
    ) -> Planned:
        cid = contract.customer.customer_id
        data = {
            "customer_id": cid,
            "metric": metric,
            "value": value,
            "period_start": instant(midnight(day)),
            "period_end": instant(midnight(day + timedelta(days=1))),
        }
        return self._wire.event(
            source=PRODUCT_SOURCE,
            type_="usage.reported",
            at=at,
            data=data,
            key=f"{cid}/usage/{metric}/{day}",
        )

    def _features_in_use(self, contract: Contract, age: int, plan: str) -> list[str]:
        """The first features of the customer's own order that its plan has, as adoption grows."""
        journey = contract.customer.journey
        order = self._feature_order[contract.customer.customer_id]
        offered = [f for f in order if f in PLANS[plan].features]
        ramp = min(1.0, (age + 1) / (journey.ramp_days * 1.5))
        return offered[: max(1, round(journey.feature_share * len(offered) * ramp))]

    def _activity(self, contract: Contract, day: date) -> list[Planned]:
        customer = contract.customer
        cid, journey, age = customer.customer_id, customer.journey, contract.age(day)
        found = []
        for milestone, milestone_age in journey.milestones:
            if milestone_age == age:
                at = at_time(day, 9 + self._rng(cid, milestone).randrange(8))
                data = {
                    "customer_id": cid,
                    "partner_id": customer.partner_id,
                    "milestone": milestone.value,
                    "completed_at": instant(at),
                }
                found.append(
                    self._partner_event(
                        "milestone.completed", at, data, f"{cid}/milestone/{milestone}"
                    )
                )
            if milestone is CSAT_AFTER and milestone_age + 2 == age:
                found.append(self._feedback(contract, day, "csat", journey.csat_range))
        if age >= NPS_FIRST_AGE - 5:
            survey = (age - NPS_FIRST_AGE + 5) // NPS_EVERY_DAYS
            if self._nps_answer_age(cid, survey) == age:
                found.append(self._feedback(contract, day, "nps", journey.nps_range))
        return found

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one timeline per run, bounded anyway
    def _nps_answer_age(self, customer_id: str, survey: int) -> int | None:
        """The age at which the customer answers survey number `survey`; None: it does not."""
        rng = self._rng(customer_id, "nps", survey)
        answer_age = NPS_FIRST_AGE + survey * NPS_EVERY_DAYS + rng.randint(-5, 5)
        return answer_age if rng.random() < NPS_RESPONSE_RATE else None

    def _feedback(
        self, contract: Contract, day: date, kind: str, scale: tuple[int, int]
    ) -> Planned:
        customer = contract.customer
        cid = customer.customer_id
        rng = self._rng(cid, kind, day)
        at = at_time(day, 9 + rng.randrange(9), rng.randrange(60))
        data = {
            "customer_id": cid,
            "partner_id": customer.partner_id,
            "kind": kind,
            "score": rng.randint(*scale),
            "submitted_at": instant(at),
        }
        return self._partner_event("feedback.submitted", at, data, f"{cid}/{kind}/{day}")

    def _partner_event(self, type_: str, at: datetime, data: dict[str, Any], key: str) -> Planned:
        return self._wire.event(source=PARTNER_SOURCE, type_=type_, at=at, data=data, key=key)


def day_by_day(
    day: Callable[[int], list[Planned]], days: int | None, *, first_day: int = 0
) -> Iterator[Planned]:
    """The events of `day(n)` for `days` days from `first_day` (forever when None)."""
    span = count(first_day) if days is None else range(first_day, first_day + days)
    for n in span:
        yield from day(n)


def _seats_used(contract: Contract, age: int, seats: int, rng: random.Random) -> int:
    """Seats in use on a day of age `age`: a ramp to the journey's utilisation, with noise."""
    journey = contract.customer.journey
    share = journey.utilisation * min(1.0, (age + 1) / journey.ramp_days)
    leaving = journey.cancellation
    if journey.archetype is Archetype.CHURNS_EARLY and leaving and age >= leaving.notice_age:
        share *= 0.3  # fading out until the end
    used = min(seats, round(seats * share * rng.uniform(0.93, 1.05)))
    if journey.stays_below_activation:
        used = min(used, (seats - 1) // 2)  # strictly below half the seats, whatever the noise
    return max(0, used)
