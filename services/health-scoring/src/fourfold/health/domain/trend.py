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
    next recompute), whatever order the history arrives in (of two points at the same
    instant, the first given)."""
    newest: tuple[datetime, int | None] | None = None
    for point in history:
        if point[0] <= at and (newest is None or point[0] > newest[0]):
            newest = point
    return None if newest is None else newest[1]


TREND_DAYS = (7, 30)


def trend_instants(as_of: datetime) -> tuple[datetime, ...]:
    """The past instants the trend compares with: the only history points `trend` needs are
    the newest at or before each of them."""
    return tuple(as_of - timedelta(days=days) for days in TREND_DAYS)


def trend(
    history: Iterable[tuple[datetime, int | None]], current: int | None, as_of: datetime
) -> Trend:
    """Change of `current` against 7 and 30 days ago; unknown on either side gives None."""
    if current is None:
        return _UNKNOWN
    points = history if isinstance(history, (list, tuple)) else list(history)
    if not points:
        return _UNKNOWN
    week, month = (score_at(points, at) for at in trend_instants(as_of))
    return Trend(
        change_7d=None if week is None else current - week,
        change_30d=None if month is None else current - month,
    )


_UNKNOWN = Trend(change_7d=None, change_30d=None)
"""No comparable past score (no history, or no current score): every rescore of a new
customer, so built once."""
