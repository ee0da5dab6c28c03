"""The retry schedule with jitter and Retry-After, the throttle and the digest windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fourfold.notifications.domain.config import Delivery, Retry
from fourfold.notifications.domain.schedule import (
    digest_window,
    next_attempt_at,
    parse_retry_after,
    within_throttle,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
POLICY = Retry(delays_s=(0, 5, 60, 3600), jitter=0.2)


@pytest.mark.parametrize(
    ("attempts", "random", "delay"),
    [
        (0, 0.5, 0),  # the first attempt goes at once
        (1, 0.5, 0),  # then immediately
        (2, 0.5, 5),  # seconds
        (3, 0.5, 60),  # minutes
        (4, 0.5, 3600),  # hours
        (2, 0.0, 4),  # jitter: 5 s × 0.8
        (2, 1.0, 6),  # 5 s × 1.2
        (4, 0.0, 2880),
    ],
)
def test_retry_schedule(attempts: int, random: float, delay: float) -> None:
    at = next_attempt_at(POLICY, attempts_made=attempts, now=NOW, random=random)
    assert at == NOW + timedelta(seconds=delay)


def test_after_the_last_delay_the_delivery_gives_up() -> None:
    assert next_attempt_at(POLICY, attempts_made=5, now=NOW, random=0.5) is None


@pytest.mark.parametrize(
    ("retry_after", "delay"),
    [
        (120.0, 120),  # longer than the schedule: honoured
        (1.0, 5),  # shorter: the schedule wins
        (10 * 86400.0, 86400),  # capped
    ],
)
def test_retry_after_is_honoured(retry_after: float, delay: float) -> None:
    at = next_attempt_at(POLICY, attempts_made=2, now=NOW, random=0.5, retry_after_s=retry_after)
    assert at == NOW + timedelta(seconds=delay)


@given(st.integers(min_value=1, max_value=4), st.floats(min_value=0, max_value=1))
def test_jitter_stays_within_its_band(attempts: int, random: float) -> None:
    at = next_attempt_at(POLICY, attempts_made=attempts, now=NOW, random=random)
    assert at is not None
    base = POLICY.delays_s[attempts - 1]
    assert base * 0.8 - 1e-6 <= (at - NOW).total_seconds() <= base * 1.2 + 1e-6


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30.0),
        (" 0 ", 0.0),
        ("Mon, 01 Jun 2026 12:02:00 GMT", 120.0),
        ("Mon, 01 Jun 2026 11:00:00 GMT", 0.0),  # in the past: now
        ("soon", None),
        ("", None),
        (None, None),
        ("-5", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    ("limit", "sent", "fits"),
    [(3, 0, True), (3, 2, True), (3, 3, False), (3, 4, False), (0, 0, False)],
)
def test_throttle_boundary(limit: int, sent: int, fits: bool) -> None:
    assert within_throttle(Delivery(throttle_per_day=limit), sent) is fits


@pytest.mark.parametrize(
    ("now", "window"),
    [
        (datetime(2026, 6, 1, 7, 59, 59, tzinfo=UTC), datetime(2026, 6, 1, 8, tzinfo=UTC)),
        (datetime(2026, 6, 1, 8, tzinfo=UTC), datetime(2026, 6, 2, 8, tzinfo=UTC)),  # at the hour
        (datetime(2026, 6, 1, 8, 0, 1, tzinfo=UTC), datetime(2026, 6, 2, 8, tzinfo=UTC)),
        (datetime(2026, 6, 1, 23, 59, tzinfo=UTC), datetime(2026, 6, 2, 8, tzinfo=UTC)),
        (datetime(2026, 12, 31, 9, tzinfo=UTC), datetime(2027, 1, 1, 8, tzinfo=UTC)),
    ],
)
def test_digest_window(now: datetime, window: datetime) -> None:
    assert digest_window(Delivery(digest_hour_utc=8), now) == window


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_digest_window_is_always_ahead_and_within_a_day(now: datetime) -> None:
    window = digest_window(Delivery(digest_hour_utc=8), now)
    assert now < window <= now + timedelta(days=1)
    assert (window.hour, window.minute, window.second) == (8, 0, 0)
