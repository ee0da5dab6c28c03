"""Money as APIs show it: the currency's ISO 4217 minor unit, rounded once, half to even."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from fourfold.events import FormattedMoney, Money, MoneyTotal, format_amount
from fourfold.events.money import MINOR_UNITS, minor_unit, round_to_minor_unit


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("4800.0000", "EUR", "4800.00"),
        ("4800", "EUR", "4800.00"),
        ("4800.0000", "JPY", "4800"),
        ("4800.0000", "BHD", "4800.000"),
        ("1E+3", "USD", "1000.00"),
        ("0.125", "USD", "0.12"),  # half to even: down to the even cent
        ("0.135", "USD", "0.14"),  # … and up to it
        ("2.5", "JPY", "2"),
        ("-0.001", "EUR", "0.00"),  # never a negative zero
        ("-12.345", "EUR", "-12.34"),
        ("0.0005", "KWD", "0.000"),
        ("0.0015", "KWD", "0.002"),
        ("123456789012345678901234.5", "BHD", "123456789012345678901234.500"),
    ],
)
def test_amounts_are_written_in_the_minor_unit(amount: str, currency: str, text: str) -> None:
    assert format_amount(Decimal(amount), currency) == text


def test_iso_4217_minor_units() -> None:
    assert (minor_unit("JPY"), minor_unit("USD"), minor_unit("BHD"), minor_unit("CLF")) == (
        0,
        2,
        3,
        4,
    )
    assert "XAU" not in MINOR_UNITS  # gold has no minor unit, and is no currency to format


@given(
    st.decimals(min_value=-(10**18), max_value=10**18, places=4, allow_nan=False),
    st.sampled_from(sorted(MINOR_UNITS)),
)
def test_formatting_rounds_once_and_keeps_the_value(amount: Decimal, currency: str) -> None:
    text = format_amount(amount, currency)
    places = minor_unit(currency)
    assert "E" not in text
    assert (places == 0) == ("." not in text)
    assert not places or len(text.split(".")[1]) == places
    assert abs(Decimal(text) - amount) <= Decimal(1).scaleb(-places) / 2
    assert format_amount(Decimal(text), currency) == text  # rounding again changes nothing
    assert Decimal(text) == round_to_minor_unit(amount, currency)


def test_formatted_money_is_what_apis_answer() -> None:
    shown = FormattedMoney.of(Decimal("4800.0000"), "EUR")
    assert shown.model_dump(mode="json") == {"amount": "4800.00", "currency": "EUR"}


@pytest.mark.parametrize("model", [Money, MoneyTotal])
def test_contract_amounts_keep_every_digit_and_refuse_floats(
    model: type[Money] | type[MoneyTotal],
) -> None:
    assert model(amount="1250.1234", currency="EUR").model_dump(mode="json")["amount"] == (
        "1250.1234"
    )
    with pytest.raises(ValidationError):
        model.model_validate({"amount": 12.5, "currency": "EUR"})
    with pytest.raises(ValidationError):
        model.model_validate({"amount": "12.5", "currency": "ZZZ"})


def test_a_total_holds_twelve_times_the_largest_amount() -> None:
    largest = Money(amount="99999999999999.9999", currency="EUR").amount
    assert MoneyTotal(amount=largest * 12, currency="EUR").amount == largest * 12
