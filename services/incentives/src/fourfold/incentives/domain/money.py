"""Money of the ledger: Decimal in the event's currency, rounded once, half-even, to the
currency's ISO 4217 minor unit when an entry is made (`round_to_minor_unit`), never on the
way. The minor units are the shared table (`fourfold.events.money.MINOR_UNITS`, from the
ISO 4217 list), so the ledger knows every currency an event may carry. Amounts in different
currencies are never added together and never converted."""

from __future__ import annotations

from decimal import Decimal

from fourfold.events.money import MINOR_UNITS, round_to_minor_unit


def is_rounded(amount: Decimal, currency: str) -> bool:
    """Whether `amount` already has no digits beyond the currency's minor unit."""
    return round_to_minor_unit(amount, currency) == amount


def known_currency(currency: str) -> bool:
    """Whether the currency is an ISO 4217 code with a minor unit (events carry no other)."""
    return currency in MINOR_UNITS


def annual(mrr: Decimal) -> Decimal:
    """ARR from MRR: twelve months, exact (no rounding here)."""
    return mrr * 12
