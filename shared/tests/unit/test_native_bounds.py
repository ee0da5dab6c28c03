"""Bounds that pydantic-core checks itself, without a Python call per event, answer exactly as
the Python checks they replaced: money's digit bounds and extension attribute names."""

from __future__ import annotations

import json as stdlib_json
import re
from decimal import Decimal
from typing import Annotated, Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError

from fourfold.events.envelope import EXTENSION_NAME, Envelope
from fourfold.events.money import _DECIMAL_TEXT, Amount, TotalAmount
from fourfold.events.problems import field_problems
from fourfold.events.registry import parse_event
from fourfold.testing.samples import usage_reported


def python_checked(max_digits: int) -> TypeAdapter[Decimal]:
    """The amount as it was: the bounds after the float check, so pydantic applies them as
    Python validators (`max_digits_validator`, `decimal_places_validator`)."""
    return TypeAdapter(
        Annotated[
            Decimal,
            _DECIMAL_TEXT,
            Field(allow_inf_nan=False, max_digits=max_digits, decimal_places=4),
        ]
    )


PAIRS = [(TypeAdapter(Amount), python_checked(18)), (TypeAdapter(TotalAmount), python_checked(22))]


def outcome(adapter: TypeAdapter[Decimal], value: Any, *, json: bool) -> object:
    """The decimal (with its exponent: `1.50` is not `1.5`), or the errors."""
    try:
        if json:
            parsed = adapter.validate_json(stdlib_json.dumps(value))  # ints past 64 bits too
        else:
            parsed = adapter.validate_python(value)
        return ("ok", parsed.as_tuple())
    except ValidationError as exc:
        return [(e["type"], e["loc"], e["msg"]) for e in exc.errors(include_url=False)]


digits = st.text("0123456789", min_size=1, max_size=26)
decimal_texts = st.one_of(
    st.builds(
        lambda sign, whole, frac, exp: f"{sign}{whole}{'.' + frac if frac else ''}{exp}",
        st.sampled_from(["", "-", "+"]),
        digits,
        st.one_of(st.just(""), digits),
        st.one_of(st.just(""), st.integers(-30, 30).map(lambda e: f"E{e:+d}")),
    ),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text("0123456789.-+eE_ nNaIify", max_size=12),
)
amounts = st.one_of(decimal_texts, st.integers(-(10**25), 10**25), st.floats(), st.booleans())


@settings(max_examples=600, deadline=None)
@given(value=amounts, json=st.booleans())
def test_money_bounds_in_pydantic_core_answer_as_the_python_checks_did(
    value: Any, json: bool
) -> None:
    for native, python in PAIRS:
        assert outcome(native, value, json=json) == outcome(python, value, json=json)


@pytest.mark.parametrize(
    "value",
    [
        "99999999999999.9999",  # the largest Amount
        "100000000000000",  # one whole digit too many
        "1.00000",  # five places, but trailing zeros
        "0.00001",
        "0E-10",
        "-0.00000",
        "1E+14",
        "1E+13",
        "12345678901234.00000",
        "123456789012345678.0000",  # a TotalAmount's largest whole part
        "1234567890123456789",
        "NaN",
        "-Infinity",
        " 12.5 ",
        "1_000",
        12,
        12.5,
    ],
)
def test_money_bounds_agree_on_each_edge(value: Any) -> None:
    for native, python in PAIRS:
        for json in (False, True):
            assert outcome(native, value, json=json) == outcome(python, value, json=json)


@pytest.mark.parametrize("value", ["1e400", "-1E+309"])
def test_an_amount_past_a_floats_range_is_still_refused_now_for_its_digits(value: str) -> None:
    """The one difference: pydantic's Python check called it not finite (as a float it is
    infinite); pydantic-core counts its digits first. Refused at the same place either way."""
    for native, python in PAIRS:
        for json in (False, True):
            assert outcome(python, value, json=json) == [
                ("finite_number", (), "Input should be a finite number")
            ]
            [(kind, loc, _)] = outcome(native, value, json=json)  # type: ignore[misc]
            assert (kind, loc) == ("decimal_max_digits", ())


def test_money_bounds_are_pydantic_cores_own() -> None:
    """No Python validator per bound (four calls per amount when they were)."""
    for adapter, _ in PAIRS:
        schema = adapter.core_schema
        assert schema["type"] == "function-before"  # the float check, the one Python call
        assert schema["schema"]["type"] == "decimal"  # type: ignore[typeddict-item]
        assert schema["schema"]["decimal_places"] == 4  # type: ignore[typeddict-item]


def with_extension(name: str) -> bytes:
    return orjson.dumps({**usage_reported("e-1", "c-1"), name: "x"})


@settings(max_examples=300, deadline=None)
@given(name=st.one_of(st.text(max_size=24), st.text("abcxyz019AZ-_\n", max_size=24)))
def test_an_extension_name_is_accepted_exactly_when_cloudevents_allows_it(name: str) -> None:
    if name in Envelope.model_fields:  # an envelope attribute, not an extension
        return
    allowed = re.fullmatch(r"[a-z0-9]{1,20}", name) is not None
    try:
        event = parse_event(with_extension(name))
    except ValidationError:
        assert not allowed
    else:
        assert allowed
        assert event.extensions() == {name: "x"}


@pytest.mark.parametrize("name", ["Bad", "much-too-long-and-dashed", "abc\n", ""])
def test_a_bad_extension_name_is_refused_naming_the_attribute(name: str) -> None:
    """`abc\\n` too: the published schema's pattern (`propertyNames`) never allowed it, and
    now the model agrees (Python's `$` before a final newline had let it through)."""
    with pytest.raises(ValidationError) as caught:
        parse_event(with_extension(name))
    [problem] = field_problems(caught.value)
    assert problem["loc"] == [name]
    assert EXTENSION_NAME in problem["msg"]
