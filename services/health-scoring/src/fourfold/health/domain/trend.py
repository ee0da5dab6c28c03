"""How the score moved: change against the score 7 and 30 days before `as_of`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple


class ScorePoint(NamedTuple):
    at: datetime
    score: int | None


@dataclass(frozen=True)
class Trend:
    change_7d: int | None
    change_30d: int | None
    """Points gained (+) or lost (-); None when there is no comparable past score."""


def score_at(history: Iterable[tuple[datetime, int | None]], at: datetime) -> int | None:
    """The score in force at `at`: the newest point at or before it (scores hold until the
    next recompute), whatever order the history arrives in."""
    before = [ScorePoint(*point) for point in history if point[0] <= at]
    return max(before, key=lambda point: point.at).score if before else None


TREND_DAYS = (7, 30)


def trend_instants(as_of: datetime) -> tuple[datetime, ...]:
    """The past instants the trend compares with: the only history points `trend` needs are
    the newest at or before each of them."""
    return tuple(as_of - timedelta(days=days) for days in TREND_DAYS)


def trend(
    history: Iterable[tuple[datetime, int | None]], current: int | None, as_of: datetime
) -> Trend:
    """Change of `current` against 7 and 30 days ago; unknown on either side gives None."""
    points = list(history)

    def change(at: datetime) -> int | None:
        past = score_at(points, at)
        return None if past is None or current is None else current - past

    week, month = (change(at) for at in trend_instants(as_of))
    return Trend(change_7d=week, change_30d=month)
