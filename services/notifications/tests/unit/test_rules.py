"""Every rule at and around each of its thresholds (defaults from the shipped configuration)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from fourfold.events.derived import MAX_LISTED
from fourfold.notifications.domain.config import RuleName, default_config
from fourfold.notifications.domain.rules import (
    day_counts,
    evaluate,
    health_drop,
    implement_stalled,
    increase_opportunity,
    payment_failed,
    renewal_at_risk,
)
from fourfold.notifications.domain.snapshot import Invoice, Snapshot, epoch

CONFIG = default_config()
RULES = CONFIG.rules
NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
START_DAY = date(2026, 6, 1)
START = datetime(2026, 6, 1, tzinfo=UTC)
BOTH = frozenset({"users_trained", "first_value"})


def snap(**fields: object) -> Snapshot:
    """A snapshot of p-1's c-1; history given as (datetime, value) is stored as epoch seconds."""
    for history in ("scores", "utilisations"):
        if history in fields:
            points: tuple[tuple[datetime, object], ...] = fields[history]  # type: ignore[assignment]
            fields[history] = tuple((epoch(at), value) for at, value in points)
    return replace(Snapshot(customer_id="c-1", partner_id="p-1"), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("age", "seats_in_use", "milestones", "fires"),
    [
        (timedelta(days=21) - timedelta(seconds=1), 0, frozenset(), False),  # one second short
        (timedelta(days=21), 0, frozenset(), True),  # exactly N days: fires
        (timedelta(days=21), 2, BOTH, True),  # 20% < 30%
        (timedelta(days=21), 3, BOTH, False),  # exactly 30%: not below
        (timedelta(days=21), 4, BOTH, False),
        (timedelta(days=21), 4, frozenset({"users_trained"}), True),  # a milestone missing
        (timedelta(days=21), 4, frozenset({"first_value"}), True),
        (timedelta(days=60), 10, BOTH, False),
    ],
)
def test_implement_stalled(
    age: timedelta, seats_in_use: int, milestones: frozenset[str], fires: bool
) -> None:
    s = snap(
        subscription_start=START_DAY, seats=10, seats_in_use=seats_in_use, milestones=milestones
    )
    fired = implement_stalled(s, RULES.implement_stalled, START + age)
    assert (fired is not None) is fires
    if fired is not None:
        assert fired.facts["started_on"] == START_DAY.isoformat()  # a date, not a count
        counts = day_counts(RuleName.IMPLEMENT_STALLED, fired.facts, START + age)
        assert counts == {"days_since_start": age.days}
        assert set(fired.facts["missing_milestones"]) == BOTH - milestones


def test_implement_stalled_needs_a_start_and_no_cancellation() -> None:
    late = START + timedelta(days=40)
    assert implement_stalled(snap(), RULES.implement_stalled, late) is None
    cancelled = snap(subscription_start=START_DAY, cancelled=True)
    assert implement_stalled(cancelled, RULES.implement_stalled, late) is None
    no_seat_data = snap(subscription_start=START_DAY)
    assert implement_stalled(no_seat_data, RULES.implement_stalled, late) is not None


def _high_since(since: datetime, value: float = 0.95) -> Snapshot:
    return snap(
        seats=20,
        utilisation=value,
        utilisations=((since - timedelta(days=30), 0.5), (since, value)),
    )


@pytest.mark.parametrize(
    ("held", "value", "expansion_ago", "fires"),
    [
        (timedelta(days=14) - timedelta(seconds=1), 0.95, None, False),
        (timedelta(days=14), 0.95, None, True),
        (timedelta(days=14), 0.90, None, True),  # exactly the threshold counts
        (timedelta(days=30), 0.8999, None, False),
        (timedelta(days=30), 0.95, timedelta(days=90) - timedelta(seconds=1), False),
        (timedelta(days=30), 0.95, timedelta(days=90), True),  # the last expansion 90 days ago
    ],
)
def test_increase_opportunity(
    held: timedelta, value: float, expansion_ago: timedelta | None, fires: bool
) -> None:
    s = _high_since(NOW - held, value)
    if expansion_ago is not None:
        s = replace(s, last_expansion_at=NOW - expansion_ago)
    fired = increase_opportunity(s, RULES.increase_opportunity, NOW)
    assert (fired is not None) is fires
    if fired is not None:
        assert fired.facts["at_or_above_since"] == (NOW - held).isoformat()
        counts = day_counts(RuleName.INCREASE_OPPORTUNITY, fired.facts, NOW)
        assert counts == {"days_at_or_above": held.days}


def test_increase_opportunity_counts_from_the_last_dip() -> None:
    s = snap(
        utilisation=0.95,
        utilisations=(
            (NOW - timedelta(days=40), 0.95),
            (NOW - timedelta(days=10), 0.5),  # a dip restarts the count
            (NOW - timedelta(days=9), 0.95),
        ),
    )
    assert increase_opportunity(s, RULES.increase_opportunity, NOW) is None
    assert increase_opportunity(s, RULES.increase_opportunity, NOW + timedelta(days=5)) is not None


@pytest.mark.parametrize(
    ("left", "band", "fires"),
    [
        (timedelta(days=90) + timedelta(seconds=1), "red", False),
        (timedelta(days=90), "red", True),  # within N days, inclusive
        (timedelta(days=30), "yellow", True),
        (timedelta(days=30), "green", False),
        (timedelta(days=30), "unknown", False),
        (timedelta(seconds=1), "red", True),
        (timedelta(0), "red", False),  # the term has ended
    ],
)
def test_renewal_at_risk(left: timedelta, band: str, fires: bool) -> None:
    term_end = date(2026, 12, 1)
    now = datetime(2026, 12, 1, tzinfo=UTC) - left
    s = snap(term_end=term_end, band=band, score=40)
    fired = renewal_at_risk(s, RULES.renewal_at_risk, now)
    assert (fired is not None) is fires
    if fired is not None:
        assert "days_to_term_end" not in fired.facts  # worked out when a text is rendered
        counts = day_counts(RuleName.RENEWAL_AT_RISK, fired.facts, now)
        assert counts == {"days_to_term_end": left.days}


@pytest.mark.parametrize(
    ("points", "fires"),
    [
        ([(timedelta(days=3), 70), (timedelta(0), 55)], True),  # exactly 15 points
        ([(timedelta(days=3), 70), (timedelta(0), 56)], False),  # 14 points
        ([(timedelta(days=14), 80), (timedelta(0), 60)], True),  # high exactly 14 days ago
        # the high before the window still held at the window's start
        ([(timedelta(days=30), 80), (timedelta(days=1), 60)], True),
        # a high long gone, then a lower level for more than the window
        ([(timedelta(days=40), 90), (timedelta(days=20), 70), (timedelta(0), 60)], False),
        ([(timedelta(0), 30)], False),  # a single point is no drop
    ],
)
def test_health_drop(points: list[tuple[timedelta, int]], fires: bool) -> None:
    scores = tuple((NOW - ago, value) for ago, value in points)
    s = snap(scores=scores, score=scores[-1][1])
    fired = health_drop(s, RULES.health_drop, NOW)
    assert (fired is not None) is fires


def test_health_drop_clears_when_the_high_leaves_the_window() -> None:
    s = snap(scores=((NOW - timedelta(days=1), 80), (NOW, 60)), score=60)
    assert health_drop(s, RULES.health_drop, NOW) is not None
    # the 80 was replaced by the 60 one day later: 14 days after that, the window holds 60
    assert health_drop(s, RULES.health_drop, NOW + timedelta(days=14, seconds=1)) is None


def test_payment_failed_until_paid() -> None:
    failed = snap(invoices={"in_1": Invoice(failed_at=NOW)})
    fired = payment_failed(failed, RULES.payment_failed, NOW)
    assert fired is not None
    assert fired.facts == {"invoices": ["in_1"], "failed_count": 1}
    paid = snap(invoices={"in_1": Invoice(failed_at=NOW, paid_at=NOW)})
    assert payment_failed(paid, RULES.payment_failed, NOW) is None


def test_evaluate_answers_nothing_without_a_partner_or_when_disabled() -> None:
    s = snap(invoices={"in_1": Invoice(failed_at=NOW)})
    assert evaluate(s, CONFIG, NOW)[RuleName.PAYMENT_FAILED] is not None
    assert evaluate(replace(s, partner_id=None), CONFIG, NOW)[RuleName.PAYMENT_FAILED] is None
    off = CONFIG.model_copy(
        update={
            "rules": RULES.model_copy(
                update={
                    "payment_failed": RULES.payment_failed.model_copy(update={"enabled": False})
                }
            )
        }
    )
    assert evaluate(s, off, NOW)[RuleName.PAYMENT_FAILED] is None


def test_payment_failed_lists_a_bounded_number_of_invoices_and_counts_them_all() -> None:
    many = {f"in_{i:04d}": Invoice(failed_at=NOW) for i in range(MAX_LISTED + 5)}
    fired = payment_failed(snap(invoices=many), RULES.payment_failed, NOW)
    assert fired is not None
    assert fired.facts["invoices"] == sorted(many)[:MAX_LISTED]
    assert fired.facts["failed_count"] == len(many)
