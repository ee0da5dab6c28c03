"""The simulated vendor: its plans, its partners (tiers, certifications) and their customers.

`build_vendor(seed=...)` is pure: the same arguments give the same vendor. Better partners
(higher tier, more certifications) sell more and their customers onboard better.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from itertools import product
from typing import TypeVar

from fourfold.simulator.archetypes import Archetype, Journey, plan_journey


class Tier(StrEnum):
    REGISTERED = "registered"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


@dataclass(frozen=True)
class Plan:
    name: str
    price_per_seat: Decimal
    """Monthly list price of one seat."""
    features: tuple[str, ...]
    seats: tuple[int, int]
    """Smallest and largest first order."""


FEATURES = (
    "dashboards", "reports", "alerts", "api", "sso", "audit_log", "workflows", "mobile",
    "integrations", "forecasting", "data_export", "sandbox", "custom_roles", "ai_assist",
)  # fmt: skip
PLANS = {
    "starter": Plan("starter", Decimal("19.00"), FEATURES[:6], (5, 25)),
    "business": Plan("business", Decimal("39.00"), FEATURES[:10], (20, 150)),
    "enterprise": Plan("enterprise", Decimal("69.00"), FEATURES, (100, 600)),
}
UPGRADES = {"starter": "business", "business": "enterprise", "enterprise": "enterprise"}
ADDONS = {"premium_support": Decimal("6.00"), "analytics_plus": Decimal("9.00")}
"""Cross-sell products, priced per seat."""

CERTIFICATIONS = ("implementation", "technical", "sales", "security", "customer_success")
LEVELS = ("associate", "professional", "expert")


@dataclass(frozen=True)
class Certification:
    name: str
    level: str
    day: int
    """Day of the run it is earned; 0 for those the partner holds when the run starts."""


@dataclass(frozen=True)
class Partner:
    partner_id: str
    tier: Tier
    currency: str
    certifications: tuple[Certification, ...]


@dataclass(frozen=True)
class Customer:
    customer_id: str
    partner_id: str
    currency: str
    plan: str
    seats: int
    signup_day: int
    """Day of the run the subscription is created."""
    journey: Journey

    @property
    def archetype(self) -> Archetype:
        return self.journey.archetype


@dataclass(frozen=True)
class Vendor:
    seed: int
    partners: tuple[Partner, ...]
    customers: tuple[Customer, ...]


_NAMES = (
    "northwind", "contoso", "fabrikam", "tailspin", "litware", "adatum", "proseware",
    "wingtip", "coho", "lucerne", "margie", "alpine", "blue-yonder", "humongous", "trey",
    "wide-world", "woodgrove", "relecloud", "munson", "nod", "graphic", "southridge",
)  # fmt: skip
_KINDS = ("msp", "cloud", "systems", "partners", "it", "digital", "consulting")
_TIERS = {Tier.REGISTERED: 35, Tier.SILVER: 30, Tier.GOLD: 22, Tier.PLATINUM: 13}
_SALES_WEIGHT = {Tier.REGISTERED: 1, Tier.SILVER: 2, Tier.GOLD: 3, Tier.PLATINUM: 5}
_HELD_CERTIFICATIONS = {Tier.REGISTERED: (0, 1), Tier.SILVER: (1, 2), Tier.GOLD: (2, 3)}
_CURRENCIES = {"EUR": 45, "USD": 40, "GBP": 15}
_PLAN_MIX = {"starter": 45, "business": 40, "enterprise": 15}
# Better partners land more customers who onboard, expand and renew; weaker ones more stalls.
_ARCHETYPE_MIX: dict[Tier, dict[Archetype, int]] = {
    Tier.REGISTERED: {
        Archetype.ONBOARDS_WELL: 20, Archetype.STALLS_IN_IMPLEMENT: 25, Archetype.EXPANDS: 8,
        Archetype.RENEWS: 12, Archetype.CHURNS_EARLY: 20, Archetype.PAYS_LATE: 15,
    },
    Tier.SILVER: {
        Archetype.ONBOARDS_WELL: 28, Archetype.STALLS_IN_IMPLEMENT: 18, Archetype.EXPANDS: 12,
        Archetype.RENEWS: 15, Archetype.CHURNS_EARLY: 12, Archetype.PAYS_LATE: 15,
    },
    Tier.GOLD: {
        Archetype.ONBOARDS_WELL: 32, Archetype.STALLS_IN_IMPLEMENT: 12, Archetype.EXPANDS: 18,
        Archetype.RENEWS: 18, Archetype.CHURNS_EARLY: 8, Archetype.PAYS_LATE: 12,
    },
    Tier.PLATINUM: {
        Archetype.ONBOARDS_WELL: 32, Archetype.STALLS_IN_IMPLEMENT: 8, Archetype.EXPANDS: 24,
        Archetype.RENEWS: 20, Archetype.CHURNS_EARLY: 5, Archetype.PAYS_LATE: 11,
    },
}  # fmt: skip
MAX_PARTNERS = len(_NAMES) * len(_KINDS)
MAX_CUSTOMERS = 99_999
MAX_PREFIX = 64
"""Ids stay well inside the contracts' 128 characters."""
_T = TypeVar("_T")


def build_vendor(
    *,
    seed: int,
    partners: int = 36,
    customers: int = 300,
    signup_days: int = 90,
    prefix: str = "",
) -> Vendor:
    """A vendor with `partners` partners and `customers` customers signing up over `signup_days`.

    `prefix` goes in front of every partner and customer id, so that two simulated vendors
    (or two tests) can share one Fourfold without sharing customers.
    """
    if not 1 <= partners <= MAX_PARTNERS:
        raise ValueError(f"partners must be within 1..{MAX_PARTNERS}")
    if not 0 <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be within 0..{MAX_CUSTOMERS}")
    if signup_days < 1:
        raise ValueError("signup_days must be at least 1")
    if len(prefix) > MAX_PREFIX or "\x00" in prefix:
        raise ValueError(f"prefix must be at most {MAX_PREFIX} characters, without NUL")
    rng = random.Random(f"{seed}:vendor")
    names = rng.sample(sorted(f"{a}-{b}" for a, b in product(_NAMES, _KINDS)), partners)
    book = tuple(_partner(f"{prefix}{name}", rng) for name in sorted(names))
    weights = [_SALES_WEIGHT[p.tier] for p in book]
    clients = []
    for index in range(customers):
        partner = rng.choices(book, weights)[0]
        clients.append(_customer(f"{prefix}cust-{index + 1:05d}", partner, signup_days, rng, seed))
    return Vendor(seed=seed, partners=book, customers=tuple(clients))


def _partner(partner_id: str, rng: random.Random) -> Partner:
    tier = _pick(_TIERS, rng)
    low, high = _HELD_CERTIFICATIONS.get(tier, (3, 4))
    names = rng.sample(CERTIFICATIONS, rng.randint(low, high) + 1)
    held = names[:-1]
    certifications = [Certification(name, rng.choice(LEVELS), 0) for name in held]
    if rng.random() < 0.35:  # works towards one more during the run
        certifications.append(Certification(names[-1], LEVELS[0], rng.randint(10, 300)))
    return Partner(
        partner_id=partner_id,
        tier=tier,
        currency=_pick(_CURRENCIES, rng),
        certifications=tuple(certifications),
    )


def _customer(
    customer_id: str, partner: Partner, signup_days: int, rng: random.Random, seed: int
) -> Customer:
    plan = PLANS[_pick(_PLAN_MIX, rng)]
    low, high = plan.seats
    archetype = _pick(_ARCHETYPE_MIX[partner.tier], rng)
    return Customer(
        customer_id=customer_id,
        partner_id=partner.partner_id,
        currency=partner.currency,
        plan=plan.name,
        seats=round(low * (high / low) ** rng.random()),  # small orders are the common ones
        signup_day=rng.randrange(signup_days),
        journey=plan_journey(archetype, random.Random(f"{seed}:{customer_id}:journey")),
    )


def _pick(weights: dict[_T, int], rng: random.Random) -> _T:
    options = list(weights)
    return rng.choices(options, [weights[o] for o in options])[0]
