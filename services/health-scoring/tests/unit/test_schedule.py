"""Time moves scores without events, and the schedule says when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.schedule import next_time_change
from fourfold.health.domain.scorecard import default_scorecard
from fourfold.health.domain.scoring import score
from fourfold.health.domain.signals import (
    CustomerSignals,
    Milestone,
    Sentiment,
    SentimentKind,
    UsageMetric,
    with_usage,
)

AS_OF = datetime(2025, 6, 30, 12, tzinfo=UTC)
CARD = default_scorecard()


def midnight(days: int) -> datetime:
    return datetime.combine(AS_OF.date() + timedelta(days=days), datetime.min.time(), UTC)


def test_an_idle_customer_decays_as_the_clock_advances() -> None:
    idle = CustomerSignals("c1", "p1")
    for n in range(30):
        idle = with_usage(idle, UsageMetric.ACTIVE_USERS, 5, AS_OF - timedelta(days=n))
    later = (0, 15, 18, 20, 40)  # the last 30 days shrink against the 30 before them
    scores = [score(idle, CARD, AS_OF + timedelta(days=d)).computed_score for d in later]
    assert scores == [100, 100, 33, 0, 0]


def test_nothing_time_based_means_no_scheduled_change() -> None:
    assert next_time_change(CustomerSignals("c1", "p1"), CARD, AS_OF) is None


def test_next_change_is_the_next_window_boundary_of_recent_usage() -> None:
    active = with_usage(CustomerSignals("c1", "p1"), UsageMetric.ACTIVE_USERS, 3, AS_OF)
    assert next_time_change(active, CARD, AS_OF) == midnight(30)
    assert next_time_change(active, CARD, midnight(30)) == midnight(60)
    assert next_time_change(active, CARD, midnight(60)) is None


def test_next_change_takes_the_earliest_rule() -> None:
    customer = CustomerSignals(
        "c1",
        "p1",
        subscription_start=AS_OF - timedelta(days=5),  # kickoff due at day 7
        term_end=AS_OF + timedelta(days=365),
        sentiment=Sentiment(SentimentKind.CSAT, 4, AS_OF - timedelta(days=179)),
        milestones={Milestone.KICKOFF: AS_OF - timedelta(days=1)},
    )
    assert next_time_change(customer, CARD, AS_OF) == AS_OF + timedelta(days=1)
    manual = ManualOverride("call", AS_OF - timedelta(days=1), AS_OF + timedelta(hours=2), score=5)
    assert next_time_change(customer, CARD, AS_OF, manual) == AS_OF + timedelta(hours=2)
