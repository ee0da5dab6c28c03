"""Statements and status, derived: nothing here is stored as a total that could drift.

A statement of a partner for a period (calendar month), per currency:
opening = every earlier period's entries (rejected ones excluded), closing = opening + this
period's entries, due = closing − what earlier statements paid out. A clawback of an
already-paid entry makes `due` smaller, possibly negative: the negative is carried forward
and nets against the next periods' earnings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

Status = Literal["accrued", "payable", "approved", "rejected", "paid"]
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class StatementLine:
    currency: str
    opening: Decimal
    earned: Decimal
    """Sum of this period's positive entries."""
    reversed: Decimal
    """Sum of this period's negative entries (≤ 0)."""
    closing: Decimal
    paid_before: Decimal
    due: Decimal


def statement_lines(
    *,
    before: Mapping[str, Decimal],
    earned: Mapping[str, Decimal],
    reversed_: Mapping[str, Decimal],
    paid_before: Mapping[str, Decimal],
) -> list[StatementLine]:
    """One line per currency seen in any of the sums, in currency order."""
    currencies = sorted({*before, *earned, *reversed_, *paid_before})
    lines = []
    for currency in currencies:
        opening = before.get(currency, ZERO)
        plus, minus = earned.get(currency, ZERO), reversed_.get(currency, ZERO)
        closing = opening + plus + minus
        paid = paid_before.get(currency, ZERO)
        lines.append(StatementLine(currency, opening, plus, minus, closing, paid, closing - paid))
    return lines


def entry_status(transitions: Sequence[str], *, payable_at: datetime, now: datetime) -> Status:
    """The current status: the last explicit transition (approved, rejected, paid), else
    accrued until the holding period ends and payable from then on."""
    if transitions:
        last = transitions[-1]
        if last in ("approved", "rejected", "paid"):
            return last  # type: ignore[return-value]
    return "payable" if payable_at <= now else "accrued"


def next_period(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def open_period(now_period: str, frozen: set[str]) -> str:
    """Where an entry of `now_period` goes: that period, or the next one not yet paid."""
    period = now_period
    while period in frozen:
        period = next_period(period)
    return period
