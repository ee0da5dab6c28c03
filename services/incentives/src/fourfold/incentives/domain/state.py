"""A customer's and a partner's history, folded from the lifecycle events in event-time
order: partner of record, subscription terms and ARR, health band and milestones over time;
a partner's tier and certifications over time. The rules read it "as of" an instant."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Generic, TypeVar

from fourfold.events import (
    Band,
    CustomerPartnerChanged,
    Envelope,
    HealthChanged,
    MilestoneCompleted,
    PartnerCertified,
    PartnerTierChanged,
    SubscriptionAddonAdded,
    SubscriptionCancelled,
    SubscriptionContracted,
    SubscriptionCreated,
    SubscriptionExpanded,
    SubscriptionRenewed,
)

T = TypeVar("T")


def midnight(day: date) -> datetime:
    """A billing date as the UTC instant it begins."""
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass
class Timeline(Generic[T]):
    """Values from an instant on; `at(t)` is the value in force at `t` (None before any)."""

    points: list[tuple[datetime, T]] = field(default_factory=list)

    def add(self, at: datetime, value: T) -> None:
        points = self.points
        if not points or points[-1][0] <= at:  # the usual case: in time order
            points.append((at, value))
            return
        index = bisect.bisect_right([p[0] for p in points], at)
        points.insert(index, (at, value))

    def at(self, when: datetime) -> T | None:
        index = bisect.bisect_right([p[0] for p in self.points], when)
        return self.points[index - 1][1] if index else None

    def latest(self) -> T | None:
        return self.points[-1][1] if self.points else None


@dataclass
class Terms:
    """The subscription as billed: its start, MRR and currency."""

    subscription_id: str
    start: datetime
    mrr: Decimal
    currency: str
    term_end: date | None = None
    cancelled_at: datetime | None = None


@dataclass
class CustomerState:
    """A customer's timelines. (Their factory is the plain class: `Timeline[str]()` goes
    through typing's generic alias on every call, the most of what building a state cost.)"""

    customer_id: str
    partners: Timeline[str] = field(default_factory=Timeline)
    terms: Timeline[Terms] = field(default_factory=Timeline)
    bands: Timeline[Band] = field(default_factory=Timeline)
    milestones: dict[str, datetime] = field(default_factory=dict)

    def partner_at(self, when: datetime) -> str | None:
        return self.partners.at(when)

    def band_at(self, when: datetime) -> Band:
        """The band in force at `when`: the last one scored at or before it (unknown if none)."""
        return self.bands.at(when) or Band.UNKNOWN

    def green_since(self, when: datetime) -> datetime | None:
        """Start of the uninterrupted green streak in force at `when`, None if not green."""
        points = [p for p in self.bands.points if p[0] <= when]
        if not points or points[-1][1] is not Band.GREEN:
            return None
        start = points[-1][0]
        for at, band in reversed(points):
            if band is not Band.GREEN:
                break
            start = at
        return start

    @property
    def started_at(self) -> datetime | None:
        first = self.terms.points[0][1] if self.terms.points else None
        return None if first is None else first.start


@dataclass
class PartnerState:
    partner_id: str
    tiers: Timeline[str] = field(default_factory=Timeline)
    certifications: list[tuple[datetime, str]] = field(default_factory=list)

    def tier_at(self, when: datetime) -> str | None:
        return self.tiers.at(when)

    def certifications_at(self, when: datetime) -> list[str]:
        """Certifications held at `when`, each once, sorted (their multipliers' order)."""
        return sorted({name for at, name in self.certifications if at <= when})


def fold_customer(state: CustomerState, event: Envelope) -> None:
    """Apply one customer event to the state (idempotent for a replayed event)."""
    at = event.time
    match event:
        case SubscriptionCreated():
            d = event.data
            start = midnight(d.start_date)
            state.partners.add(start, d.partner_id)
            state.terms.add(
                start,
                Terms(d.subscription_id, start, d.mrr.amount, d.mrr.currency, d.term_end),
            )
        case SubscriptionRenewed() | SubscriptionExpanded() | SubscriptionContracted():
            _new_terms(state, at, event.data.mrr.amount, event.data.mrr.currency)
            if isinstance(event, SubscriptionRenewed):
                current = state.terms.latest()
                if current is not None:
                    current.term_end = event.data.term_end
        case SubscriptionAddonAdded():
            _new_terms(state, at, event.data.mrr.amount, event.data.mrr.currency)
        case SubscriptionCancelled():
            current = state.terms.latest()
            if current is not None:
                current.cancelled_at = at
        case CustomerPartnerChanged():
            state.partners.add(event.data.effective_at, event.data.partner_id)
        case MilestoneCompleted():
            name = event.data.milestone.value
            completed = event.data.completed_at
            if name not in state.milestones or completed < state.milestones[name]:
                state.milestones[name] = completed
        case HealthChanged():
            state.bands.add(event.data.scored_at, Band(event.data.band.value))
        case _:
            pass


def _new_terms(state: CustomerState, at: datetime, mrr: Decimal, currency: str) -> None:
    current = state.terms.latest()
    if current is None:
        return
    state.terms.add(
        at,
        Terms(current.subscription_id, current.start, mrr, currency, current.term_end),
    )


def fold_partner(state: PartnerState, event: Envelope) -> None:
    match event:
        case PartnerTierChanged():
            state.tiers.add(event.data.effective_at, event.data.tier)
        case PartnerCertified():
            state.certifications.append((event.data.certified_at, event.data.certification))


PARTNER_EVENTS = (PartnerTierChanged, PartnerCertified)


def partner_of_event(event: Envelope) -> str | None:
    """The partner a partner-level event is about (None for customer events)."""
    if isinstance(event, PARTNER_EVENTS):
        return event.data.partner_id
    return None


def customer_of_event(event: Envelope) -> str | None:
    customer_id = getattr(event.data, "customer_id", None)
    return None if customer_id is None else str(customer_id)
