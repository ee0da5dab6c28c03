"""Folding observations into signals: order-independent, replay-safe, Decimal money."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fourfold.health.domain.signals import (
    USAGE_RETENTION_DAYS,
    CustomerSignals,
    ExpansionKind,
    Milestone,
    Money,
    Sentiment,
    SentimentKind,
    SubscriptionStatus,
    UsageMetric,
    evolve,
    utc_day,
    with_expansion,
    with_features,
    with_milestone,
    with_payment,
    with_sentiment,
    with_subscription,
    with_usage,
)
from fourfold.health.state import CustomerState

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
BLANK = CustomerSignals(customer_id="c1", partner_id="p1")


def test_active_users_land_at_their_event_date_whatever_the_arrival_order() -> None:
    late_first = with_usage(BLANK, UsageMetric.ACTIVE_USERS, 5, T0)
    late_first = with_usage(late_first, UsageMetric.ACTIVE_USERS, 3, T0 - timedelta(days=2))
    in_order = with_usage(BLANK, UsageMetric.ACTIVE_USERS, 3, T0 - timedelta(days=2))
    in_order = with_usage(in_order, UsageMetric.ACTIVE_USERS, 5, T0)
    assert late_first == in_order
    assert in_order.active_users == ((date(2025, 2, 27), 3), (date(2025, 3, 1), 5))


def test_same_day_reports_keep_the_highest_count_so_replays_change_nothing() -> None:
    once = with_usage(BLANK, UsageMetric.ACTIVE_USERS, 7, T0)
    again = with_usage(
        with_usage(once, UsageMetric.ACTIVE_USERS, 4, T0), UsageMetric.ACTIVE_USERS, 7, T0
    )
    assert again.active_users == once.active_users == ((date(2025, 3, 1), 7),)


def test_usage_day_is_the_utc_day_of_the_event() -> None:
    tokyo = datetime(2025, 3, 2, 8, tzinfo=UTC).astimezone()  # any offset, same instant
    folded = with_usage(BLANK, UsageMetric.ACTIVE_USERS, 1, tokyo)
    assert folded.active_users == ((date(2025, 3, 2), 1),)


def test_old_usage_points_are_dropped_beyond_retention() -> None:
    old = with_usage(BLANK, UsageMetric.ACTIVE_USERS, 1, T0)
    new = with_usage(old, UsageMetric.ACTIVE_USERS, 1, T0 + timedelta(days=USAGE_RETENTION_DAYS))
    assert [day for day, _ in new.active_users] == [
        (T0 + timedelta(days=USAGE_RETENTION_DAYS)).date()
    ]


def test_seats_in_use_keeps_the_newest_reading_by_event_time() -> None:
    newer = with_usage(BLANK, UsageMetric.SEATS_IN_USE, 8, T0)
    stale = with_usage(newer, UsageMetric.SEATS_IN_USE, 2, T0 - timedelta(hours=1))
    assert stale.seats_in_use == 8


def test_subscription_change_older_than_the_last_applied_one_is_ignored() -> None:
    current = with_subscription(
        BLANK, at=T0, status=SubscriptionStatus.ACTIVE, seats_bought=10, start=T0
    )
    late = with_subscription(current, at=T0 - timedelta(days=1), seats_bought=3)
    assert late.seats_bought == 10
    updated = with_subscription(current, at=T0 + timedelta(days=1), seats_bought=12)
    assert (updated.seats_bought, updated.status, updated.subscription_start) == (
        12,
        SubscriptionStatus.ACTIVE,
        T0,
    )


def test_milestone_keeps_its_earliest_date() -> None:
    first = with_milestone(BLANK, Milestone.KICKOFF, T0)
    assert with_milestone(first, Milestone.KICKOFF, T0 + timedelta(days=3)) == first
    earlier = with_milestone(first, Milestone.KICKOFF, T0 - timedelta(days=3))
    assert earlier.milestones[Milestone.KICKOFF] == T0 - timedelta(days=3)


def test_payment_and_sentiment_keep_the_newest_state() -> None:
    paid = with_payment(BLANK, failed_invoices=0, past_due=False, at=T0)
    assert with_payment(paid, failed_invoices=3, past_due=True, at=T0 - timedelta(days=1)) == paid
    happy = with_sentiment(BLANK, SentimentKind.NPS, 50, T0)
    assert with_sentiment(happy, SentimentKind.NPS, -80, T0 - timedelta(days=1)) == happy
    assert with_sentiment(happy, SentimentKind.CSAT, 2, T0 + timedelta(days=1)).sentiment == (
        Sentiment(SentimentKind.CSAT, 2, T0 + timedelta(days=1))
    )


def test_features_and_expansions_are_sets_so_replays_change_nothing() -> None:
    used = with_features(BLANK, used=frozenset({"a", "b"}), available=10)
    assert with_features(used, used=frozenset({"a"})) == used
    grown = with_expansion(BLANK, ExpansionKind.ADDON, T0)
    grown = with_expansion(grown, ExpansionKind.RENEWAL, T0 - timedelta(days=5))
    assert with_expansion(grown, ExpansionKind.ADDON, T0) == grown
    assert [e.kind for e in grown.expansions] == [ExpansionKind.RENEWAL, ExpansionKind.ADDON]


def test_money_is_decimal_with_an_iso_currency_and_arr_is_twelve_mrr() -> None:
    signals = with_subscription(BLANK, at=T0, mrr=Money(Decimal("99.90"), "EUR"))
    assert signals.arr == Money(Decimal("1198.80"), "EUR")
    with pytest.raises(TypeError):
        Money(99.9, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(Decimal(1), "eur")


@pytest.mark.parametrize(
    ("kind", "value", "normalised"),
    [
        (SentimentKind.NPS, -100, Decimal(0)),
        (SentimentKind.NPS, 0, Decimal("0.5")),
        (SentimentKind.NPS, 100, Decimal(1)),
        (SentimentKind.CSAT, 1, Decimal(0)),
        (SentimentKind.CSAT, 4, Decimal("0.75")),
        (SentimentKind.CSAT, 5, Decimal(1)),
    ],
)
def test_sentiment_normalises_nps_and_csat_to_one_scale(
    kind: SentimentKind, value: int, normalised: Decimal
) -> None:
    assert Sentiment(kind, value, T0).normalised() == normalised


@pytest.mark.parametrize(("kind", "value"), [(SentimentKind.NPS, 101), (SentimentKind.CSAT, 0)])
def test_sentiment_out_of_range_is_rejected(kind: SentimentKind, value: int) -> None:
    with pytest.raises(ValueError, match="within"):
        Sentiment(kind, value, T0)


def test_naive_times_and_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        with_milestone(BLANK, Milestone.KICKOFF, datetime(2025, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="negative"):
        with_usage(BLANK, UsageMetric.ACTIVE_USERS, -1, T0)


@pytest.mark.parametrize(
    ("at", "day"),
    [
        (datetime(2025, 3, 2, 8, tzinfo=timezone(timedelta(hours=9))), date(2025, 3, 1)),
        (datetime(2025, 3, 1, 20, tzinfo=timezone(timedelta(hours=-5))), date(2025, 3, 2)),
        (datetime(2025, 3, 1, 23, 59, tzinfo=UTC), date(2025, 3, 1)),
    ],
)
def test_utc_day_shifts_by_the_offset(at: datetime, day: date) -> None:
    assert utc_day(at) == day
    with pytest.raises(ValueError, match="timezone-aware"):
        utc_day(at.replace(tzinfo=None))


def _reference_series(points: list[tuple[date, int]]) -> tuple[tuple[date, int], ...]:
    """The active-user series by definition: each day's highest count, sorted, and only the
    days within retention of the newest one."""
    series: dict[date, int] = {}
    for day, value in points:
        series[day] = max(value, series.get(day, 0))
    oldest_kept = max(series) - timedelta(days=USAGE_RETENTION_DAYS)
    return tuple(sorted((d, v) for d, v in series.items() if d > oldest_kept))


@given(
    st.lists(
        st.tuples(st.integers(0, 2 * USAGE_RETENTION_DAYS), st.integers(0, 40)),
        min_size=1,
        max_size=40,
    )
)
def test_active_users_match_their_definition_whatever_the_order(
    observations: list[tuple[int, int]],
) -> None:
    points = [(date(2025, 1, 1) + timedelta(days=n), value) for n, value in observations]
    folded = BLANK
    for seen, (day, value) in enumerate(points, start=1):
        at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=5)
        folded = with_usage(folded, UsageMetric.ACTIVE_USERS, value, at)
        assert folded.active_users == _reference_series(points[:seen])


def test_folds_keep_the_other_fields_and_the_mappings_read_only() -> None:
    folded = with_milestone(BLANK, Milestone.KICKOFF, T0)
    folded = with_usage(folded, UsageMetric.SEATS_IN_USE, 4, T0)
    assert folded == CustomerSignals(
        customer_id="c1",
        partner_id="p1",
        seats_in_use=4,
        seats_in_use_at=T0,
        milestones={Milestone.KICKOFF: T0},
    )
    assert isinstance(folded.milestones, MappingProxyType)
    assert BLANK.milestones == {}, "folding never changes the state it started from"


def test_replays_return_an_equal_state() -> None:
    once = with_usage(BLANK, UsageMetric.ACTIVE_USERS, 5, T0)
    once = with_features(once, used=frozenset({"a"}), available=3)
    once = with_expansion(once, ExpansionKind.ADDON, T0)
    again = with_usage(once, UsageMetric.ACTIVE_USERS, 5, T0)
    again = with_features(again, used=frozenset({"a"}), available=3)
    again = with_expansion(again, ExpansionKind.ADDON, T0)
    assert again == once


def test_evolve_refuses_a_name_that_is_not_a_field() -> None:
    with pytest.raises(TypeError, match="seats_sold"):
        evolve(BLANK, seats_sold=3)
    assert evolve(BLANK, seats_bought=3).seats_bought == 3


def test_every_default_a_blank_state_shares_is_immutable() -> None:
    """New and loaded states copy one blank template (`state._BLANK`): a mutable default
    would be shared by every customer."""
    blank = CustomerState.new("c-1")
    for record in (blank, blank.signals):
        for name, value in vars(record).items():
            if isinstance(value, (MappingProxyType, CustomerSignals)):
                continue  # read-only mappings; the signals are checked on their own
            assert hash(value) is not None, f"{type(record).__name__}.{name} is mutable"
