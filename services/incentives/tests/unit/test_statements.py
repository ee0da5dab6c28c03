"""Statement lines, entry status and the open period, derived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from fourfold.incentives.domain.statements import entry_status, open_period, statement_lines

NOW = datetime(2026, 5, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("transitions", "payable_in_days", "expected"),
    [
        ([], 1, "accrued"),  # still in its holding period
        ([], 0, "payable"),
        ([], -3, "payable"),
        (["approved"], -3, "approved"),
        (["approved", "paid"], -3, "paid"),
        (["rejected"], 5, "rejected"),
    ],
)
def test_status_is_the_last_transition_or_the_hold(
    transitions: list[str], payable_in_days: int, expected: str
) -> None:
    payable_at = NOW + timedelta(days=payable_in_days)
    assert entry_status(transitions, payable_at=payable_at, now=NOW) == expected


def test_a_negative_due_is_carried_forward() -> None:
    (line,) = statement_lines(
        before={"USD": Decimal("600.00")},
        earned={},
        reversed_={"USD": Decimal("-600.00")},
        paid_before={"USD": Decimal("600.00")},
    )
    assert (line.opening, line.closing, line.due) == (
        Decimal("600.00"),
        Decimal("0.00"),
        Decimal("-600.00"),
    )


@pytest.mark.parametrize(
    ("period", "frozen", "expected"),
    [
        ("2026-05", set(), "2026-05"),
        ("2026-05", {"2026-05"}, "2026-06"),
        ("2026-12", {"2026-12"}, "2027-01"),
    ],
)
def test_the_open_period_skips_paid_ones(period: str, frozen: set[str], expected: str) -> None:
    assert open_period(period, frozen) == expected


@pytest.mark.parametrize("name", ["", "a", "evt-1\x1fnew_logo\x1fp-1\x1f", "é" * 300])
def test_entry_ids_are_the_uuid5_of_their_identity(name: str) -> None:
    import uuid

    from fourfold.incentives.domain.entries import _NAMESPACE, _uuid5

    assert _uuid5(name) == str(uuid.uuid5(_NAMESPACE, name))
