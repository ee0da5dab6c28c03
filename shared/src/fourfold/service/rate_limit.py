"""Per-token rate limits: a token bucket per caller, applied by the shell to every request
with a valid bearer token, before any route runs.

A caller is the token's (role, subject, partner): every token issued to one subject shares
one bucket. A bucket holds up to `limit` requests and refills at `limit` per minute, so a
caller may burst up to a minute's worth and then keeps the steady rate; past it the answer is
429 `rate_limited` with `Retry-After` (whole seconds until one request is allowed again).

The buckets live in the replica's memory: with N replicas a caller gets up to N times the
limit (docs/deploy.md, "Rate limits"). Time is the monotonic clock, never the services'
(possibly simulated) clock: a limit is about real load.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fourfold.auth.principal import Principal, Role
from fourfold.settings import FourfoldSettings

MAX_CALLERS = 100_000
"""Buckets kept before idle (full again) ones are dropped: memory stays bounded."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets per caller; `limits` is requests per minute per role (0: no limit)."""

    def __init__(
        self,
        limits: Mapping[Role, int],
        *,
        now: Callable[[], float] = time.monotonic,
        max_callers: int = MAX_CALLERS,
    ) -> None:
        if any(limit < 0 for limit in limits.values()):
            raise ValueError(f"limits must be >= 0, not {dict(limits)}")
        self.limits = dict(limits)
        self._now = now
        self._max_callers = max_callers
        self._buckets: dict[tuple[Role, str, str | None], _Bucket] = {}

    @classmethod
    def from_settings(cls, settings: FourfoldSettings) -> RateLimiter:
        return cls(
            {
                "ingest": settings.rate_limit_ingest_per_minute,
                "partner": settings.rate_limit_partner_per_minute,
                "admin": settings.rate_limit_admin_per_minute,
            }
        )

    def admit(self, principal: Principal) -> int | None:
        """Take one request from the caller's bucket: None when admitted, else the whole
        seconds (at least 1) to wait before the next request is."""
        limit = self.limits.get(principal.role, 0)
        if limit == 0:
            return None
        now = self._now()
        key = (principal.role, principal.subject, principal.partner_id)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_callers:
                self._drop_idle(now)
            bucket = self._buckets[key] = _Bucket(float(limit), now)
        rate = limit / 60.0
        bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / rate - 1e-9))  # 10.0000001 is 10

    def _drop_idle(self, now: float) -> None:
        """Forget callers whose bucket is full again (they would start full anyway); if none
        is, the oldest half, so a flood of new subjects cannot grow the table."""
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.at) * self.limits.get(key[0], 0) / 60.0
            >= self.limits.get(key[0], 0)
        ]
        if not full:
            by_age = sorted(self._buckets, key=lambda key: self._buckets[key].at)
            full = by_age[: max(1, len(by_age) // 2)]
        for key in full:
            del self._buckets[key]


__all__ = ["MAX_CALLERS", "RateLimiter"]
