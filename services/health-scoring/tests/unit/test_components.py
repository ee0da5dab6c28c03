"""Each component, table-driven: its 0..1 score, or not available when there is no data."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fourfold.health.domain.components import engagement_windows, read_component
from fourfold.health.domain.scorecard import ComponentName, default_scorecard
from fourfold.health.domain.signals import (
    CustomerSignals,
    Milestone,
    PaymentState,
    Sentiment,
    SentimentKind,
)

AS_OF = datetime(2025, 6, 30, 12, tzinfo=UTC)
TODAY = AS_OF.date()
BLANK = CustomerSignals(customer_id="c1", partner_id="p1")
CARD = default_scorecard()


def signals(**changes: Any) -> CustomerSignals:
    return dataclasses.replace(BLANK, **changes)


def reading(name: ComponentName, customer: CustomerSignals) -> Decimal | None:
    config = CARD.components.configured[name]
    return read_component(name, customer, config, AS_OF).score


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def flat(start: int, end: int, users: int) -> tuple[tuple[date, int], ...]:
    """`users` active every day from `start` days ago down to `end` days ago."""
    return tuple((days_ago(n), users) for n in range(start, end - 1, -1))


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        (signals(), None),
        (signals(seats_bought=10), None),
        (signals(seats_in_use=3), None),
        (signals(seats_bought=0, seats_in_use=3), None),
        (signals(seats_bought=10, seats_in_use=0), Decimal(0)),
        (signals(seats_bought=10, seats_in_use=4), Decimal("0.5")),  # 0.4 of full_at 0.8
        (signals(seats_bought=10, seats_in_use=8), Decimal(1)),
        (signals(seats_bought=10, seats_in_use=15), Decimal(1)),  # over-use is capped
    ],
)
def test_adoption(customer: CustomerSignals, expected: Decimal | None) -> None:
    assert reading(ComponentName.ADOPTION, customer) == expected


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        ((), None),
        (((TODAY + timedelta(days=1), 5),), None),  # only in the future of as_of
        (flat(59, 0, 4), Decimal(1)),  # steady
        (flat(59, 30, 4) + flat(29, 0, 8), Decimal(1)),  # growing
        (flat(59, 30, 4) + flat(29, 0, 3), Decimal("0.5")),  # ratio 0.75: halfway 0.5..1
        (flat(59, 30, 4) + flat(29, 0, 2), Decimal(0)),  # halved
        (flat(59, 30, 4), Decimal(0)),  # idle for the last 30 days
        (flat(29, 0, 1), Decimal(1)),  # new customer ramping up
        (((days_ago(200), 9),), Decimal(0)),  # long idle: decayed, still available
        (((days_ago(3), 0),), Decimal(0)),
    ],
)
def test_engagement(series: tuple[tuple[date, int], ...], expected: Decimal | None) -> None:
    assert reading(ComponentName.ENGAGEMENT, signals(active_users=series)) == expected


def test_engagement_windows_are_relative_to_as_of_and_end_today() -> None:
    series = ((days_ago(0), 1), (days_ago(29), 10), (days_ago(30), 100), (days_ago(59), 1000))
    assert engagement_windows(series, TODAY, 30) == (11, 1100)
    assert engagement_windows(series, TODAY + timedelta(days=30), 30) == (0, 11)


@pytest.mark.parametrize(
    ("used", "available", "expected"),
    [
        (set(), None, None),
        ({"a"}, 0, None),
        (set(), 10, Decimal(0)),
        ({"a", "b", "c"}, 10, Decimal("0.5")),  # 0.3 of full_at 0.6
        (set("abcdef"), 10, Decimal(1)),
        (set("abcdefghijkl"), 10, Decimal(1)),
    ],
)
def test_breadth(used: set[str], available: int | None, expected: Decimal | None) -> None:
    customer = signals(features_used=frozenset(used), features_available=available)
    assert reading(ComponentName.BREADTH, customer) == expected


def started(days: int, *reached: Milestone, reached_days_ago: int = 1) -> CustomerSignals:
    at = AS_OF - timedelta(days=reached_days_ago)
    return signals(
        subscription_start=AS_OF - timedelta(days=days),
        milestones=dict.fromkeys(reached, at),
    )


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        (signals(), None),  # no subscription: age unknown
        (started(3), None),  # nothing expected yet
        (started(3, Milestone.KICKOFF), None),  # early milestones neither help nor hurt
        (started(-5), None),  # starts in the future
        (started(10), Decimal(0)),  # kickoff due at day 7, missed
        (started(10, Milestone.KICKOFF), Decimal(1)),
        (started(30, Milestone.KICKOFF), Decimal("0.5")),  # configured due at 21
        (started(30, Milestone.KICKOFF, reached_days_ago=-1), Decimal(0)),  # after as_of
        (started(61, Milestone.KICKOFF, Milestone.CONFIGURED), Decimal("0.5")),
        (started(400, *Milestone), Decimal(1)),
    ],
)
def test_implementation(customer: CustomerSignals, expected: Decimal | None) -> None:
    assert reading(ComponentName.IMPLEMENTATION, customer) == expected


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        (signals(), None),
        (signals(subscription_start=AS_OF), Decimal(1)),
        (signals(payment=PaymentState(0, False, AS_OF)), Decimal(1)),
        (signals(payment=PaymentState(1, False, AS_OF)), Decimal("0.75")),
        (signals(payment=PaymentState(9, False, AS_OF)), Decimal(0)),
        (signals(payment=PaymentState(0, True, AS_OF)), Decimal("0.3")),
        (signals(payment=PaymentState(3, True, AS_OF)), Decimal("0.25")),
    ],
)
def test_payment(customer: CustomerSignals, expected: Decimal | None) -> None:
    assert reading(ComponentName.PAYMENT, customer) == expected


@pytest.mark.parametrize("past_due", [True, False])
def test_payment_inputs_keep_their_types(past_due: bool) -> None:
    """A flag is a boolean (the API shows `"past_due": true`), not its text."""
    customer = signals(payment=PaymentState(2, past_due, AS_OF))
    config = CARD.components.configured[ComponentName.PAYMENT]
    inputs = read_component(ComponentName.PAYMENT, customer, config, AS_OF).inputs
    assert inputs == {"failed_invoices": 2, "past_due": past_due}
    assert type(inputs["past_due"]) is bool


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (None, None),
        (Sentiment(SentimentKind.NPS, 40, AS_OF - timedelta(days=10)), Decimal("0.7")),
        (Sentiment(SentimentKind.CSAT, 3, AS_OF), Decimal("0.5")),
        (Sentiment(SentimentKind.NPS, 40, AS_OF - timedelta(days=179)), Decimal("0.7")),
        (Sentiment(SentimentKind.NPS, 40, AS_OF - timedelta(days=180)), None),  # stale
        (Sentiment(SentimentKind.NPS, 40, AS_OF + timedelta(days=1)), None),  # not yet given
    ],
)
def test_sentiment(answer: Sentiment | None, expected: Decimal | None) -> None:
    assert reading(ComponentName.SENTIMENT, signals(sentiment=answer)) == expected


def test_readings_explain_their_inputs() -> None:
    config = CARD.components.configured[ComponentName.ADOPTION]
    found = read_component(
        ComponentName.ADOPTION, signals(seats_bought=10, seats_in_use=4), config, AS_OF
    )
    assert found.available
    assert found.inputs == {"seats_in_use": 4, "seats_bought": 10, "utilisation": Decimal("0.4")}
