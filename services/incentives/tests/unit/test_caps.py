"""Caps on corrections (domain/caps.py), table-driven: what counts against a partner's cap
for a month, and how a system adjustment (recalculation, late band) is cut by it, while an
accepted dispute is an admin's override that is neither cut nor counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from fourfold.incentives.domain.accrual import accrue
from fourfold.incentives.domain.caps import (
    CapKey,
    cap_adjustment,
    cap_adjustments,
    counts_toward_cap,
)
from fourfold.incentives.domain.entries import Entry, Kind
from fourfold.incentives.domain.program import ProgramSet
from fourfold.incentives.samples import Customer

MARCH = datetime(2026, 3, 2, 9, tzinfo=UTC)
APRIL = datetime(2026, 4, 2, 9, tzinfo=UTC)
CAP = Decimal("10000.00")
KEY: CapKey = ("p-1", "2026-03", "USD")


def entry(
    amount: str,
    *,
    kind: Kind = "adjustment",
    source: str = "recalc:r1",
    at: datetime = MARCH,
    entry_id: str | None = None,
) -> Entry:
    return Entry(
        entry_id=entry_id or f"{kind}-{source}-{amount}",
        partner_id="p-1",
        customer_id="c-1",
        rule="new_logo",
        kind=kind,
        amount=Decimal(amount),
        currency="USD",
        event_time=at,
        payable_at=at,
        source_event_id=source,
        program_id="p",
        program_version="v1",
        reverses=None if kind == "accrual" else "original",
    )


@pytest.mark.parametrize(
    ("kind", "source", "counts"),
    [
        ("accrual", "e-1", True),
        ("adjustment", "recalc:r1", True),  # a recalculation
        ("adjustment", "e-health", True),  # a renewal re-priced for a late band
        ("adjustment", "dispute:d1", False),  # an admin's override
        ("reversal", "e-cancel", False),  # a clawback does not free the cap
    ],
)
def test_what_counts_toward_a_cap(kind: Kind, source: str, counts: bool) -> None:
    assert counts_toward_cap(entry("100.00", kind=kind, source=source)) is counts


@pytest.mark.parametrize(
    ("amount", "used", "cap", "expected", "capped"),
    [
        ("500.00", "9000.00", CAP, "500.00", False),  # fits
        ("500.00", "9800.00", CAP, "200.00", True),  # cut to what is left
        ("500.00", "10000.00", CAP, "0.00", True),  # nothing left
        ("500.00", "12000.00", CAP, "0.00", True),  # already over (never negative)
        ("1000.00", "9000.00", CAP, "1000.00", False),  # exactly reaches the cap
        ("-700.00", "10000.00", CAP, "-700.00", False),  # a negative one is never cut
        ("500.00", "99999.00", None, "500.00", False),  # no cap in that currency
    ],
)
def test_a_system_adjustment_is_cut_to_what_is_left_of_its_months_cap(
    amount: str, used: str, cap: Decimal | None, expected: str, capped: bool
) -> None:
    result = cap_adjustment(entry(amount), cap, Decimal(used))
    assert result.amount == Decimal(expected)
    assert (result.inputs.get("capped") == "true") is capped
    if capped:
        assert result.inputs["uncapped"] == amount
        assert result.inputs["cap"] == str(cap)


@pytest.mark.parametrize(
    ("adjustments", "used", "expected"),
    [
        # negatives first free the month, then the positives take what is left, in order
        (
            [entry("3000.00", entry_id="a"), entry("-2000.00", entry_id="b")],
            "9000.00",
            [("a", "3000.00"), ("b", "-2000.00")],
        ),
        (
            [entry("800.00", entry_id="a"), entry("800.00", entry_id="b")],
            "9000.00",
            [("a", "800.00"), ("b", "200.00")],
        ),
        # one cut to zero has nothing to append
        ([entry("800.00", entry_id="a")], "10000.00", []),
        # each month has its own cap
        (
            [entry("800.00", entry_id="a"), entry("800.00", entry_id="b", at=APRIL)],
            "9500.00",
            [("a", "500.00"), ("b", "800.00")],
        ),
        # an accepted dispute is an override: neither cut nor counted
        (
            [entry("5000.00", source="dispute:d1", entry_id="d"), entry("300.00", entry_id="a")],
            "9800.00",
            [("d", "5000.00"), ("a", "200.00")],
        ),
    ],
)
def test_a_batch_of_adjustments_is_capped_together(
    adjustments: list[Entry], used: str, expected: list[tuple[str, str]]
) -> None:
    result = cap_adjustments(adjustments, {KEY: Decimal(used)}, lambda _: CAP)
    assert [(e.entry_id, str(e.amount)) for e in result] == expected


@pytest.mark.parametrize(
    ("others_mrr", "expected"),
    [
        ("0", "720.00"),  # room left: the correction is the full band difference
        ("15000.00", "520.00"),  # 480 + 9,000 (the other new logo) used: 520 left
        ("20000.00", None),  # the other new logo took the rest: nothing to append
    ],
)
def test_a_renewal_repriced_for_a_late_band_counts_against_the_renewals_month(
    programs: ProgramSet, others_mrr: str, expected: str | None
) -> None:
    """A red renewal (12,000 × 8% × 0.5 = 480) re-priced green (× 1.25 = 1,200) when the band
    in force at it arrives late: +720 in principle, cut by March's 10,000 cap."""
    c = Customer("c-1", "p-1")
    created, renewed = c.created(MARCH - timedelta(days=400), "1000.00"), c.renewed(MARCH)
    red = c.health(MARCH - timedelta(days=10), "red")
    other = Customer("c-2", "p-1").created(MARCH, others_mrr) if others_mrr != "0" else None
    live = [created, red, renewed]
    first = accrue(history=live, fresh={e.id for e in live}, existing=[], programs=programs,
                   cap_used={})  # fmt: skip
    ledger = list(first.entries)
    assert [(e.rule, str(e.amount)) for e in ledger if e.rule == "renewal"] == [
        ("renewal", "480.00")
    ]
    used: dict[CapKey, Decimal] = {KEY: Decimal(480)}
    if other is not None:  # another customer's new logo in March: 12 × MRR × 5%
        used[KEY] += min(Decimal(others_mrr) * 12 * Decimal("0.05"), CAP - used[KEY])
    late_green = c.health(MARCH - timedelta(days=1), "green", previous="red")
    history = [*live, late_green]
    second = accrue(history=history, fresh={late_green.id}, existing=ledger, programs=programs,
                    cap_used=dict(used))  # fmt: skip
    corrections = [e for e in second.entries if e.kind == "adjustment"]
    if expected is None:
        assert corrections == []
    else:
        assert [str(e.amount) for e in corrections] == [expected]
        assert (corrections[0].inputs.get("capped") == "true") is (expected != "720.00")
