"""Billing systems' amounts → exact Decimal money, and recurring prices → MRR.

Stripe and Chargebee send amounts as integers in the currency's minor unit: cents for EUR,
yen for JPY (a zero-decimal currency), fils for KWD (three decimals). MRR sums each recurring
line's monthly share in Decimal and is rounded once, at the end, to the contract's four
decimal places (half-even), so a yearly price of 1,000.00 is 83.3333 a month and twelve
of those never drift by more than the last place.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final, Literal

from fourfold.events.money import Money

# Stripe's zero-decimal and three-decimal currencies (Stripe docs, "Supported currencies");
# Chargebee uses the same ISO 4217 exponents for these.
ZERO_DECIMAL: Final = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
THREE_DECIMAL: Final = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
MRR_PLACES: Final = Decimal("0.0001")

Interval = Literal["day", "week", "month", "year"]
# Months per interval unit, exactly: 52 weeks and 365 days make a year.
MONTHS_PER: Final[dict[str, Decimal]] = {
    "day": Decimal(12) / Decimal(365),
    "week": Decimal(12) / Decimal(52),
    "month": Decimal(1),
    "year": Decimal(12),
}


class AmountError(ValueError):
    """An amount or price the adapter cannot turn into money."""


def exponent(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def from_minor(amount: Any, currency: str) -> Decimal:
    """An integer (or decimal string, Stripe's `unit_amount_decimal`) in minor units."""
    if isinstance(amount, bool) or not isinstance(amount, int | str):
        raise AmountError(f"amount must be an integer of minor units, not {amount!r}")
    try:
        minor = Decimal(amount)
    except ArithmeticError as exc:
        raise AmountError(f"amount {amount!r} is not a number") from exc
    if not minor.is_finite():
        raise AmountError(f"amount {amount!r} is not finite")
    return minor.scaleb(-exponent(currency))


def money(amount: Decimal, currency: str) -> Money:
    """Contract money: rounded once to four places, half-even; written with the currency's
    own places when that loses nothing (1250.00 EUR, 1000 JPY, 83.3333 EUR)."""
    rounded = amount.quantize(MRR_PLACES, rounding=ROUND_HALF_EVEN)
    own = rounded.quantize(Decimal(1).scaleb(-exponent(currency)))
    return Money(amount=own if own == rounded else rounded, currency=currency.upper())


@dataclass(frozen=True, slots=True)
class RecurringLine:
    """One recurring line of a subscription: a price per unit per interval, and a quantity."""

    item: str  # the line's own id (a Stripe subscription item): a new one is an added item
    key: str  # what the line sells (price or item-price id): the plan or the add-on
    product: str  # the product it belongs to: another product is a cross-sell
    unit_amount: Decimal  # major units per interval
    quantity: int
    interval: str
    interval_count: int = 1
    amount: Decimal | None = None  # the line's total per interval, when the system gives it

    def monthly(self) -> Decimal:
        """This line's share of MRR, unrounded."""
        months = MONTHS_PER.get(self.interval)
        if months is None:
            raise AmountError(f"unknown billing interval {self.interval!r}")
        if self.interval_count < 1:
            raise AmountError(f"interval_count must be at least 1, not {self.interval_count}")
        total = self.unit_amount * self.quantity if self.amount is None else self.amount
        return total / (months * self.interval_count)

    def period_months(self) -> Decimal:
        return MONTHS_PER.get(self.interval, Decimal(0)) * self.interval_count


def mrr(lines: list[RecurringLine]) -> Decimal:
    """The subscription's MRR, unrounded (round once with `money`)."""
    return sum((line.monthly() for line in lines), Decimal(0))
