"""Rounding once, half-even, to each currency's ISO 4217 minor unit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fourfold.incentives.domain.money import UnknownCurrency, minor_unit, round_money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("12.345", "USD", "12.34"),  # half-even: 4 is even, stays
        ("12.355", "USD", "12.36"),  # 5 is odd, goes up to even
        ("12.3451", "USD", "12.35"),  # above half
        ("-12.345", "USD", "-12.34"),
        ("1234.5", "JPY", "1234"),
        ("1235.5", "JPY", "1236"),
        ("0.4", "JPY", "0"),
        ("1.0005", "BHD", "1.000"),
        ("1.0015", "BHD", "1.002"),
        ("1.00051", "BHD", "1.001"),
        ("7", "EUR", "7.00"),
    ],
)
def test_rounds_half_even_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    rounded = round_money(Decimal(amount), currency)
    assert str(rounded) == expected


@pytest.mark.parametrize(("currency", "digits"), [("JPY", 0), ("USD", 2), ("BHD", 3), ("KWD", 3)])
def test_minor_units(currency: str, digits: int) -> None:
    assert minor_unit(currency) == digits


def test_an_unknown_currency_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownCurrency, match="XYZ"):
        round_money(Decimal("1"), "XYZ")
