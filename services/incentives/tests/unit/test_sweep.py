"""The adoption sweep's walk (Accrual.sweep), table-driven: what time alone makes due by a
sweep's instant, with no further event (test program: 400 USD after 60 green days from
first_value)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fourfold.incentives.domain.accrual import accrue
from fourfold.incentives.domain.program import ProgramSet
from fourfold.incentives.samples import Customer

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


@pytest.mark.parametrize(
    ("bands", "sweep_day", "due_day"),
    [
        ([(12, "green")], 72, 72),  # 60 days from day 12 (after first_value on day 10)
        ([(12, "green")], 71, None),  # one day short
        ([(5, "green")], 80, 70),  # green before first_value: counts from first_value
        ([(12, "green"), (40, "yellow")], 200, None),  # broken, never green again
        ([(12, "green"), (40, "yellow"), (50, "green")], 120, 110),  # counts again from 50
        ([(12, "yellow")], 200, None),  # never green
    ],
)
def test_the_sweep_pays_a_completed_streak_once_at_the_instant_it_completed(
    programs: ProgramSet, bands: list[tuple[int, str]], sweep_day: int, due_day: int | None
) -> None:
    c = Customer("c-1", "p-1")
    history = [c.created(day(0), "1000.00"), c.milestone(day(10), "first_value")]
    previous = None
    for at, band in bands:
        history.append(c.health(day(at), band, previous=previous))
        previous = band
    ids = {e.id for e in history}
    ledger = accrue(history=history, fresh=ids, existing=[], programs=programs, cap_used={}).entries
    assert {e.rule for e in ledger} == {"new_logo", "implementation_bonus"}  # no event saw it
    walked = accrue(history=history, fresh=set(), existing=ledger, programs=programs, cap_used={})
    assert walked.entries == []  # nothing fresh, nothing due without the sweep
    swept = accrue(
        history=history, fresh=set(), existing=ledger, programs=programs, cap_used={},
        sweep_at=day(sweep_day),
    )  # fmt: skip
    bonuses = [(e.rule, e.event_time, str(e.amount)) for e in swept.entries]
    assert bonuses == ([] if due_day is None else [("adoption_bonus", day(due_day), "400.00")])
    if swept.entries:  # already in the ledger: a second sweep adds nothing
        again = accrue(
            history=history, fresh=set(), existing=[*ledger, *swept.entries], programs=programs,
            cap_used={}, sweep_at=day(sweep_day + 30),
        )  # fmt: skip
        assert again.entries == []
