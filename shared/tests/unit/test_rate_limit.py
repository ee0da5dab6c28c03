"""The per-token rate limit: token buckets per caller, pure (time is injected)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fourfold.auth.principal import Principal
from fourfold.service.rate_limit import RateLimiter

PARTNER = Principal("alice", "partner", "p1")


class Ticks:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize(("limit", "retry_after"), [(1, 60), (6, 10), (600, 1)])
def test_a_caller_bursts_up_to_the_limit_then_waits(limit: int, retry_after: int) -> None:
    ticks = Ticks()
    limiter = RateLimiter({"partner": limit}, now=ticks)
    assert [limiter.admit(PARTNER) for _ in range(limit)] == [None] * limit
    assert limiter.admit(PARTNER) == retry_after
    ticks.t += retry_after
    assert limiter.admit(PARTNER) is None, "admitted once Retry-After has passed"


def test_retry_after_is_the_time_to_the_next_request() -> None:
    ticks = Ticks()
    limiter = RateLimiter({"partner": 2}, now=ticks)  # one request per 30 s
    assert [limiter.admit(PARTNER), limiter.admit(PARTNER)] == [None, None]
    assert limiter.admit(PARTNER) == 30
    ticks.t += 20
    assert limiter.admit(PARTNER) == 10


@pytest.mark.parametrize(
    "other",
    [
        Principal("bob", "partner", "p1"),
        Principal("alice", "partner", "p2"),
        Principal("alice", "admin"),
    ],
    ids=["other-subject", "other-partner", "other-role"],
)
def test_callers_have_their_own_buckets(other: Principal) -> None:
    limiter = RateLimiter({"partner": 1, "admin": 1}, now=Ticks())
    assert limiter.admit(PARTNER) is None
    assert limiter.admit(PARTNER) is not None
    assert limiter.admit(other) is None


def test_zero_or_a_missing_role_means_no_limit() -> None:
    limiter = RateLimiter({"partner": 0}, now=Ticks())
    assert all(limiter.admit(PARTNER) is None for _ in range(10_000))
    assert all(limiter.admit(Principal("i", "ingest")) is None for _ in range(100))
    with pytest.raises(ValueError, match="limits must be >= 0"):
        RateLimiter({"partner": -1})


def test_the_table_of_callers_stays_bounded() -> None:
    ticks = Ticks()
    limiter = RateLimiter({"partner": 5}, now=ticks, max_callers=10)
    for i in range(100):
        limiter.admit(Principal(f"user-{i}", "partner", "p1"))
        ticks.t += 0.001
    assert len(limiter._buckets) <= 10


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 120),
    gaps=st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=300),
)
def test_never_more_than_the_burst_plus_the_rate(limit: int, gaps: list[float]) -> None:
    """Whatever the request times, the admitted count over the run is at most the limit
    (the burst) plus the limit per minute of elapsed time."""
    ticks = Ticks()
    limiter = RateLimiter({"partner": limit}, now=ticks)
    start, admitted = ticks.t, 0
    for gap in gaps:
        ticks.t += gap
        admitted += limiter.admit(PARTNER) is None
    assert admitted <= limit + (ticks.t - start) * limit / 60 + 1e-9
