"""Money as Decimal with an ISO 4217 currency (never a float), and its one text form.

- `Money`: an amount as an event carries it: at most 14 digits before the point and 4
  after (fits `NUMERIC(18, 4)`).
- `MoneyTotal`: an amount derived from contract amounts by multiplying or adding (ARR is 12 ×
  MRR): at most 18 digits before the point and 4 after (fits `NUMERIC(22, 4)`).
- `CurrencyCode`: an active ISO 4217 code that has a minor unit (`EUR`, `JPY`, `BHD`; not
  `XAU` or `XXX`), from the ISO 4217 list shipped in the `iso4217` package.
- `format_amount(amount, currency)`: the amount as text in the currency's minor unit
  (`"4800.00"` EUR, `"4800"` JPY, `"4800.000"` BHD), rounded once, half to even. Every API
  output of money goes through it (or `FormattedMoney.of`), so one amount reads the same
  everywhere.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import cache
from typing import Annotated, Final, Self

from iso4217 import Currency
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

ROUNDING: Final = ROUND_HALF_EVEN
"""The one rounding rule for money (half to even, "banker's rounding"): an amount is rounded
once, when it is turned into its minor unit for output, never on the way."""

MINOR_UNITS: Final[dict[str, int]] = {
    currency.code: currency.exponent
    for currency in Currency
    if currency.exponent is not None  # precious metals, SDR, testing codes: no minor unit
}
"""ISO 4217 code → its minor unit (the number of digits after the point): JPY 0, USD 2, BHD 3."""

AMOUNT_PATTERN = r"^-?[0-9]{1,14}(\.[0-9]{1,4})?$"
TOTAL_PATTERN = r"^-?[0-9]{1,18}(\.[0-9]{1,4})?$"
FORMATTED_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


def _known_currency(code: str) -> str:
    if code not in MINOR_UNITS:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code with a minor unit")
    return code


CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_known_currency),
    WithJsonSchema(
        {
            "type": "string",
            "enum": sorted(MINOR_UNITS),
            "description": "An ISO 4217 currency code that has a minor unit.",
        }
    ),
]


def minor_unit(currency: str) -> int:
    """How many digits the currency's minor unit has (KeyError for a code ISO 4217 lacks)."""
    return MINOR_UNITS[currency]


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def round_to_minor_unit(amount: Decimal, currency: str) -> Decimal:
    """`amount` in the currency's minor unit, rounded by `ROUNDING` (never a negative zero)."""
    # Precision for every digit kept: the default context (28 digits) would raise for a sum
    # with many integer digits.
    context = Context(prec=max(28, amount.adjusted() + minor_unit(currency) + 2))
    rounded = amount.quantize(_quantum(currency), rounding=ROUNDING, context=context)
    return abs(rounded) if rounded.is_zero() else rounded


def format_amount(amount: Decimal, currency: str) -> str:
    """The amount as plain decimal text in the currency's minor unit: `"4800.00"` (EUR),
    `"4800"` (JPY), `"4800.000"` (BHD); never an exponent."""
    return format(round_to_minor_unit(amount, currency), "f")


def _no_binary_floats(value: object) -> object:
    """A JSON number arrives as a float and may already have lost digits: refuse it."""
    if isinstance(value, float):
        raise ValueError('amount must be a decimal string such as "12.50", not a number')
    return value


_DECIMAL_TEXT = BeforeValidator(_no_binary_floats)

# The bounds before the float check: pydantic-core then checks them itself, on the decimal it
# parsed; after a validator, pydantic adds them as four Python calls per amount.
Amount = Annotated[
    Decimal,
    Field(allow_inf_nan=False, max_digits=18, decimal_places=4),
    _DECIMAL_TEXT,
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN}),
]
"""An amount as an event carries it: fits NUMERIC(18, 4)."""
TotalAmount = Annotated[
    Decimal,
    Field(allow_inf_nan=False, max_digits=22, decimal_places=4),
    _DECIMAL_TEXT,
    WithJsonSchema({"type": "string", "pattern": TOTAL_PATTERN}),
]
"""A derived amount (12 × the largest `Amount` and more): fits NUMERIC(22, 4)."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(_Strict):
    """An amount in one currency; amounts travel as JSON strings to keep every digit."""

    amount: Amount
    currency: CurrencyCode


class MoneyTotal(_Strict):
    """An amount derived from contract amounts (ARR, a sum): up to 18 digits before the point."""

    amount: TotalAmount
    currency: CurrencyCode


class FormattedMoney(_Strict):
    """Money as an API answers it: the amount as text in the currency's minor unit."""

    amount: Annotated[
        str,
        Field(
            pattern=FORMATTED_PATTERN,
            description="Decimal text in the currency's minor unit (EUR 2 digits, JPY 0, "
            "BHD 3), rounded half to even.",
            examples=["4800.00"],
        ),
    ]
    currency: CurrencyCode

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Self:
        return cls(amount=format_amount(amount, currency), currency=currency)


__all__ = [
    "MINOR_UNITS",
    "ROUNDING",
    "Amount",
    "CurrencyCode",
    "FormattedMoney",
    "Money",
    "MoneyTotal",
    "TotalAmount",
    "format_amount",
    "minor_unit",
    "round_to_minor_unit",
]
