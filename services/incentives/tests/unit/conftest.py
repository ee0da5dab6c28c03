"""A program of the tests' own (so every expected amount is computed by hand from it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fourfold.incentives.domain.program import Program, ProgramSet, parse_program

PROGRAM_YAML = """\
program_id: test
version: "t1"
effective_from: 2026-01-01
hold_days: 30
rules:
  new_logo: {rate: "0.05"}
  implementation_bonus:
    within_days: 30
    amount: {amounts: {USD: "500.00", JPY: "75000", BHD: "190.000"}}
    late_amount: {amounts: {USD: "200.00", JPY: "30000", BHD: "75.000"}}
  upsell: {rate: "0.10", reversal_days: 90}
  cross_sell: {rate: "0.12", reversal_days: 60}
  renewal:
    rate: "0.08"
    band_multipliers: {green: "1.25", yellow: "1.0", red: "0.5", unknown: "1.0"}
  adoption_bonus:
    green_days: 60
    amount: {amounts: {USD: "400.00"}}
  clawback: {within_days: 90}
accelerators:
  default_tier: registered
  tiers: {registered: "1.0", gold: "1.2"}
  certifications: {implementation: "1.05", adoption: "1.10"}
  max: "1.3"
caps:
  per_period: {USD: "10000.00"}
"""

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def program() -> Program:
    return parse_program(PROGRAM_YAML)


@pytest.fixture
def programs(program: Program) -> ProgramSet:
    return ProgramSet([program])


@pytest.fixture
def program_yaml() -> str:
    return PROGRAM_YAML
