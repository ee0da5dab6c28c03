"""How a simulated customer's life goes: one archetype each, planned up front as a `Journey`.

A journey is plain data in days since the subscription started (the customer's *age*): when
each onboarding milestone is reached, how far seat utilisation ramps and how fast, when seats
grow or shrink, whether and when the customer cancels, how it pays and what it answers in
surveys. The timeline turns it into dated events; nothing here knows about dates or events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from fourfold.events.activity import Milestone

CLAWBACK_WINDOW_DAYS = 90
"""A cancellation this many days after the start claws the partner's first-sale reward back."""
ACTIVATION_UTILISATION = 0.5
"""Seats in use / bought at which onboarding counts as done (health-scoring's default)."""


class Archetype(StrEnum):
    ONBOARDS_WELL = "onboards_well"
    STALLS_IN_IMPLEMENT = "stalls_in_implement"
    EXPANDS = "expands"
    RENEWS = "renews"
    CHURNS_EARLY = "churns_early"
    PAYS_LATE = "pays_late"


@dataclass(frozen=True)
class SeatChange:
    """An expansion (factor > 1, maybe onto a higher plan) or a contraction (factor < 1)."""

    age: int
    factor: float
    upgrade: bool = False


@dataclass(frozen=True)
class Cancellation:
    notice_age: int
    """When the customer says it leaves (the `subscription.cancelled` event)."""
    effective_age: int | None
    """When the subscription ends; None: at the end of the current term."""
    reason: str


@dataclass(frozen=True)
class Journey:
    archetype: Archetype
    term_months: int
    """Length of the first term; renewals run twelve months."""
    milestones: tuple[tuple[Milestone, int], ...]
    utilisation: float
    """Seats in use / seats bought once the ramp is done."""
    ramp_days: int
    feature_share: float
    """Share of the plan's features the customer ends up using."""
    seat_changes: tuple[SeatChange, ...] = ()
    addon_age: int | None = None
    cancellation: Cancellation | None = None
    renews: bool = True
    failure_rate: float = 0.0
    """Chance that an invoice's first collection attempt fails."""
    nps_range: tuple[int, int] = (7, 10)
    csat_range: tuple[int, int] = (3, 5)

    @property
    def stays_below_activation(self) -> bool:
        return self.utilisation < ACTIVATION_UTILISATION


def plan_journey(archetype: Archetype, rng: random.Random) -> Journey:
    """Draw one customer's journey for its archetype; the same rng state gives the same one."""
    return _PLANNERS[archetype](rng)


def _onboarding(rng: random.Random, *, pace: float = 1.0) -> tuple[tuple[Milestone, int], ...]:
    """The full onboarding, kickoff within a week; `pace` > 1 stretches it."""
    kickoff = rng.randint(1, 6)
    configured = kickoff + round(rng.randint(5, 12) * pace)
    trained = configured + round(rng.randint(4, 10) * pace)
    first_value = trained + round(rng.randint(3, 10) * pace)
    success_plan = first_value + rng.randint(10, 25)
    qbr = rng.randint(85, 100)
    return (
        (Milestone.KICKOFF, kickoff),
        (Milestone.CONFIGURED, configured),
        (Milestone.USERS_TRAINED, trained),
        (Milestone.FIRST_VALUE, first_value),
        (Milestone.SUCCESS_PLAN, success_plan),
        (Milestone.QBR_HELD, qbr),
    )


def _onboards_well(rng: random.Random) -> Journey:
    return Journey(
        archetype=Archetype.ONBOARDS_WELL,
        term_months=12,
        milestones=_onboarding(rng),
        utilisation=rng.uniform(0.7, 0.85),
        ramp_days=rng.randint(25, 45),
        feature_share=rng.uniform(0.55, 0.8),
        nps_range=(8, 10),
        csat_range=(4, 5),
    )


def _stalls_in_implement(rng: random.Random) -> Journey:
    """Kicked off, maybe configured, never trained nor at first value; seats stay mostly idle."""
    kickoff = rng.randint(2, 8)
    milestones: tuple[tuple[Milestone, int], ...] = ((Milestone.KICKOFF, kickoff),)
    if rng.random() < 0.6:
        milestones += ((Milestone.CONFIGURED, kickoff + rng.randint(15, 40)),)
    contraction = (
        (SeatChange(age=rng.randint(100, 150), factor=0.75),) if rng.random() < 0.4 else ()
    )
    return Journey(
        archetype=Archetype.STALLS_IN_IMPLEMENT,
        term_months=12,
        milestones=milestones,
        utilisation=rng.uniform(0.12, 0.35),
        ramp_days=rng.randint(20, 40),
        feature_share=rng.uniform(0.1, 0.25),
        seat_changes=contraction,
        cancellation=Cancellation(
            notice_age=rng.randint(300, 330), effective_age=None, reason="never adopted"
        ),
        renews=False,
        nps_range=(3, 7),
        csat_range=(2, 4),
    )


def _expands(rng: random.Random) -> Journey:
    """Onboards fast, fills its seats, buys more (onto a higher plan) and an add-on."""
    first = rng.randint(55, 110)
    changes = [SeatChange(age=first, factor=rng.uniform(1.3, 1.6), upgrade=True)]
    if rng.random() < 0.5:
        changes.append(SeatChange(age=first + rng.randint(60, 120), factor=rng.uniform(1.15, 1.4)))
    return Journey(
        archetype=Archetype.EXPANDS,
        term_months=12,
        milestones=_onboarding(rng, pace=0.8),
        utilisation=rng.uniform(0.88, 0.97),
        ramp_days=rng.randint(20, 35),
        feature_share=rng.uniform(0.75, 0.95),
        seat_changes=tuple(changes),
        addon_age=first + rng.randint(20, 80),
        nps_range=(9, 10),
        csat_range=(4, 5),
    )


def _renews(rng: random.Random) -> Journey:
    """A six-month first term, so the renewal falls inside a year of history."""
    return Journey(
        archetype=Archetype.RENEWS,
        term_months=6,
        milestones=_onboarding(rng),
        utilisation=rng.uniform(0.65, 0.85),
        ramp_days=rng.randint(25, 45),
        feature_share=rng.uniform(0.5, 0.75),
        nps_range=(7, 10),
        csat_range=(4, 5),
    )


def _churns_early(rng: random.Random) -> Journey:
    """Gives notice after a month or two and is gone inside the clawback window."""
    notice = rng.randint(30, 70)
    effective = notice + rng.randint(0, min(14, CLAWBACK_WINDOW_DAYS - 1 - notice))
    milestones: tuple[tuple[Milestone, int], ...] = ((Milestone.KICKOFF, rng.randint(1, 6)),)
    return Journey(
        archetype=Archetype.CHURNS_EARLY,
        term_months=12,
        milestones=milestones,
        utilisation=rng.uniform(0.15, 0.4),
        ramp_days=rng.randint(15, 30),
        feature_share=rng.uniform(0.05, 0.2),
        cancellation=Cancellation(
            notice_age=notice,
            effective_age=effective,
            reason=rng.choice(["not a fit", "budget cut", "moved to a competitor"]),
        ),
        renews=False,
        nps_range=(0, 4),
        csat_range=(1, 2),
    )


def _pays_late(rng: random.Random) -> Journey:
    """Uses the product well enough; most invoices fail first and are paid days later."""
    return Journey(
        archetype=Archetype.PAYS_LATE,
        term_months=12,
        milestones=_onboarding(rng, pace=1.3),
        utilisation=rng.uniform(0.55, 0.7),
        ramp_days=rng.randint(35, 55),
        feature_share=rng.uniform(0.4, 0.6),
        failure_rate=rng.uniform(0.6, 0.9),
        nps_range=(5, 8),
        csat_range=(3, 4),
    )


_PLANNERS = {
    Archetype.ONBOARDS_WELL: _onboards_well,
    Archetype.STALLS_IN_IMPLEMENT: _stalls_in_implement,
    Archetype.EXPANDS: _expands,
    Archetype.RENEWS: _renews,
    Archetype.CHURNS_EARLY: _churns_early,
    Archetype.PAYS_LATE: _pays_late,
}
