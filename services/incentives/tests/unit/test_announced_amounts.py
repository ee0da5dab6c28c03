"""The largest entry a program can produce still announces as a valid contract event.

An add-on's MRR may have 14 digits before the point (the billing contract's `Amount`);
twelve months of it at rate 1 under the largest band multiplier and accelerator a program
may set has 17. `incentive.accrued` and `incentive.reversed` must carry that, or the entry
commits but its event dead-letters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from fourfold.events.registry import parse_event
from fourfold.incentives.domain.entries import Entry
from fourfold.incentives.domain.program import Multiplier, Rate
from fourfold.incentives.ledger import announce

NOW = datetime(2026, 3, 1, tzinfo=UTC)
LARGEST_MRR = Decimal("99999999999999.9999")


def _bound(annotated: object, name: str) -> Decimal:
    for meta in getattr(annotated, "__metadata__", ()):
        for constraint in getattr(meta, "metadata", ()):
            if hasattr(constraint, name):
                return Decimal(getattr(constraint, name))
    raise AssertionError(f"no {name} bound")


@pytest.mark.parametrize("kind", ["accrual", "reversal"])
def test_the_largest_possible_entry_announces_as_a_valid_event(kind: str) -> None:
    most = LARGEST_MRR * 12 * _bound(Rate, "le") * _bound(Multiplier, "le") ** 2
    amount = (-most if kind == "reversal" else most).quantize(Decimal("0.01"))
    entry = Entry(
        entry_id="e-1",
        partner_id="p-1",
        customer_id="c-1",
        rule="cross_sell",
        kind="reversal" if kind == "reversal" else "accrual",
        amount=amount,
        currency="USD",
        event_time=NOW,
        payable_at=NOW,
        source_event_id="s-1",
        program_id="default",
        program_version="1",
        reverses="e-0" if kind == "reversal" else None,
    )
    event = announce(entry, "2026-03", NOW)
    parsed = parse_event(event.payload)
    assert parsed.data.amount.amount == amount  # type: ignore[attr-defined]
