"""Rounding once, half-even, to each currency's ISO 4217 minor unit (the shared table)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fourfold.events.money import format_amount, minor_unit, round_to_minor_unit
from fourfold.incentives.domain.money import is_rounded, known_currency


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
        ("7.005", "CHE", "7.00"),  # WIR euro: in ISO 4217, missing from the old local table
    ],
)
def test_rounds_half_even_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    rounded = round_to_minor_unit(Decimal(amount), currency)
    assert str(rounded) == expected
    assert is_rounded(rounded, currency)
    assert format_amount(rounded, currency) == expected  # the API shows what the ledger holds


@pytest.mark.parametrize(
    ("currency", "digits"), [("JPY", 0), ("USD", 2), ("BHD", 3), ("KWD", 3), ("CLF", 4)]
)
def test_minor_units(currency: str, digits: int) -> None:
    assert minor_unit(currency) == digits


@pytest.mark.parametrize("currency", ["XYZ", "XAU", "XXX"])
def test_a_currency_without_a_minor_unit_is_unknown_not_guessed(currency: str) -> None:
    assert not known_currency(currency)
    with pytest.raises(KeyError):
        round_to_minor_unit(Decimal("1"), currency)
