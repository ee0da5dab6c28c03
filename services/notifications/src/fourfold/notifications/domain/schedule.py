"""When to try a delivery again, and what waits for the digest.

- Retry: attempt 1 goes at once; attempt n+1 waits `delays_s[n-1]` ± `jitter`, or longer
  when the receiver asked with `Retry-After` (capped); after the last delay, the delivery is
  dead-lettered. Jitter is a factor in [1 - jitter, 1 + jitter] from an injected random
  number, so the schedule is a pure function and testable.
- Throttle: at most `throttle_per_day` immediate deliveries per partner per UTC day; what is
  over joins the partner's digest.
- Digest windows: a digest is keyed by (partner, the instant it is sent): the next
  `digest_hour_utc:00` after the nudge arrived. A nudge is in exactly one window, a window in
  exactly one partner's digest, and a digest's items are frozen when it is sent, so a retry
  resends the same items and later nudges go to the next window.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime

from fourfold.notifications.domain.config import Delivery, Retry


def next_attempt_at(
    policy: Retry,
    *,
    attempts_made: int,
    now: datetime,
    random: float,
    retry_after_s: float | None = None,
) -> datetime | None:
    """When to make the next attempt after `attempts_made` failed ones; None: give up."""
    if attempts_made < 1:
        return now
    if attempts_made > len(policy.delays_s):
        return None
    base = policy.delays_s[attempts_made - 1]
    factor = 1 + policy.jitter * (2 * min(max(random, 0.0), 1.0) - 1)
    delay = base * factor
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, policy.max_retry_after_s))
    return now + timedelta(seconds=delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds from `now`: delta-seconds or an HTTP date; junk is ignored."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def utc_day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def within_throttle(policy: Delivery, sent_today: int) -> bool:
    """Whether one more immediate delivery fits the partner's allowance for the day."""
    return sent_today < policy.throttle_per_day


def digest_window(policy: Delivery, now: datetime) -> datetime:
    """The instant the digest holding a nudge throttled at `now` is sent: the next
    `digest_hour_utc:00` strictly after `now`."""
    at = now.astimezone(UTC)
    today = datetime.combine(at.date(), time(policy.digest_hour_utc), tzinfo=UTC)
    return today if at < today else today + timedelta(days=1)
