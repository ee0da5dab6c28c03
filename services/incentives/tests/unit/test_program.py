"""Programs: validated YAML whose errors name the field and line; versions by event time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from fourfold.incentives.domain.program import (
    ProgramError,
    ProgramSet,
    default_program,
    parse_program,
)


def test_rates_and_amounts_stay_exact_decimals(program_yaml: str) -> None:
    program = parse_program(program_yaml)
    assert program.rules.new_logo is not None
    assert program.rules.new_logo.rate == Decimal("0.05")
    assert program.rules.implementation_bonus is not None
    assert program.rules.implementation_bonus.amount.amounts["BHD"] == Decimal("190.000")


@pytest.mark.parametrize(
    ("old", "new", "loc", "line"),
    [
        ('new_logo: {rate: "0.05"}', 'new_logo: {rate: "1.5"}', ["rules", "new_logo", "rate"], 6),
        ("hold_days: 30", "hold_days: -1", ["hold_days"], 4),
        ('USD: "400.00"', 'USD: "400.001"', ["rules", "adoption_bonus", "amount", "amounts"], 18),
        (
            "within_days: 30",
            "within_days: lots",
            ["rules", "implementation_bonus", "within_days"],
            8,
        ),
        ("upsell: {", "upsel: {", ["rules", "upsel"], 11),
        ('unknown: "1.0"}', "}", ["rules", "renewal", "band_multipliers"], 15),
        ("default_tier: registered", "default_tier: bronze", ["accelerators"], 20),
    ],
)
def test_errors_name_the_field_and_its_line(
    program_yaml: str, old: str, new: str, loc: list[str], line: int
) -> None:
    assert old in program_yaml
    with pytest.raises(ProgramError) as raised:
        parse_program(program_yaml.replace(old, new, 1))
    problems = raised.value.problems
    assert [p["loc"] for p in problems] == [loc]
    assert problems[0]["line"] == line
    assert f"(line {line})" in str(raised.value)


def test_broken_yaml_names_its_line() -> None:
    with pytest.raises(ProgramError) as raised:
        parse_program("program_id: x\nversion: [unclosed\n")
    assert raised.value.problems[0]["type"] == "yaml"
    assert raised.value.problems[0]["line"] is not None


def test_a_version_applies_by_event_time(program_yaml: str) -> None:
    first = parse_program(
        program_yaml.replace(
            "effective_from: 2026-01-01", "effective_from: 2026-01-01\neffective_to: 2026-07-01"
        )
    )
    second = parse_program(
        program_yaml.replace('version: "t1"', 'version: "t2"').replace("2026-01-01", "2026-07-01")
    )
    programs = ProgramSet([first, second])
    assert programs.for_time(datetime(2025, 12, 31, 23, tzinfo=UTC)) is None
    assert programs.for_time(datetime(2026, 6, 30, 23, 59, tzinfo=UTC)) is first
    assert programs.for_time(datetime(2026, 7, 1, tzinfo=UTC)) is second
    assert first.effective_to == date(2026, 7, 1)


def test_the_shipped_default_pays_lifecycle_work_more_than_the_new_logo() -> None:
    program = default_program()
    rules = program.rules
    assert rules.new_logo
    assert rules.upsell
    assert rules.cross_sell
    assert rules.renewal
    assert rules.upsell.rate > rules.new_logo.rate
    assert rules.cross_sell.rate > rules.new_logo.rate
    assert rules.renewal.rate > rules.new_logo.rate
    assert rules.implementation_bonus
    assert rules.adoption_bonus
    assert rules.clawback


def test_an_impossible_date_names_its_field_and_line(program_yaml: str) -> None:
    with pytest.raises(ProgramError) as raised:
        parse_program(
            program_yaml.replace("effective_from: 2026-01-01", "effective_from: 2026-13-01")
        )
    (problem,) = raised.value.problems
    assert problem["loc"] == ["effective_from"]
    assert problem["line"] == 3


def test_unreadable_yaml_is_a_program_error_not_a_crash() -> None:
    with pytest.raises(ProgramError):
        parse_program("a: " + "[" * 5000 + "]" * 5000)
    with pytest.raises(ProgramError):
        parse_program("- just\n- a list\n")
