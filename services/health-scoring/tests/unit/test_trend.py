"""Trend: change against the score in force 7 and 30 days ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fourfold.health.domain.trend import ScorePoint, Trend, score_at, trend

NOW = datetime(2025, 6, 30, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.mark.parametrize(
    ("history", "current", "expected"),
    [
        ([], 70, Trend(None, None)),
        ([(ago(3), 50)], 70, Trend(None, None)),  # nothing as old as 7 days
        ([(ago(7), 50)], 70, Trend(20, None)),
        ([(ago(30), 80), (ago(7), 50)], 70, Trend(20, -10)),
        ([(ago(45), 80), (ago(10), 60), (ago(8), 65)], 70, Trend(5, -10)),  # newest before wins
        ([(ago(8), 65), (ago(45), 80), (ago(10), 60)], 70, Trend(5, -10)),  # any order
        ([(ago(40), None), (ago(9), 60)], 70, Trend(10, None)),  # unknown then
        ([(ago(40), 60)], None, Trend(None, None)),  # unknown now
    ],
)
def test_trend(
    history: list[tuple[datetime, int | None]], current: int | None, expected: Trend
) -> None:
    assert trend(history, current, NOW) == expected


def test_score_at_accepts_score_points_and_is_inclusive() -> None:
    history = [ScorePoint(ago(1), 10), ScorePoint(ago(0), 20)]
    assert score_at(history, NOW) == 20
    assert score_at(history, ago(0.5)) == 10
    assert score_at(history, ago(2)) is None
