"""An injectable clock: services and tests ask it for the time instead of the wall clock.

`SystemClock` in production, `ManualClock` in tests, `ScaledClock` for demos (simulated time
running faster than real time); `clock_from(settings)` picks one from the `FOURFOLD_CLOCK_*`
settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fourfold.settings import FourfoldSettings


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: for tests and replays."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward and return the new time."""
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = when


class ScaledClock:
    """Simulated time: `start` at the origin, then `speed` simulated seconds per real second.

    Progress is read from a monotonic source (`time.monotonic` unless one is handed in), so a
    wall-clock step (NTP, a suspended laptop's catch-up) never moves it backwards.
    `elapsed_at_origin` is how many real seconds had already passed since the simulated
    `start` when the clock was built: processes started one after another but given the same
    start and anchor agree on the simulated time.
    """

    def __init__(
        self,
        *,
        start: datetime,
        speed: float,
        elapsed_at_origin: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs an aware datetime")
        if not speed > 0 or speed == float("inf"):
            raise ValueError("ScaledClock speed must be a positive, finite number")
        self._start = start.astimezone(UTC)
        self._speed = speed
        self._monotonic = monotonic
        self._origin = monotonic() - elapsed_at_origin
        self._last = self._start + timedelta(seconds=elapsed_at_origin * speed)

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    def now(self) -> datetime:
        elapsed = self._monotonic() - self._origin
        current = self._start + timedelta(seconds=elapsed * self._speed)
        if current > self._last:  # a monotonic source may stand still, never step back
            self._last = current
        return self._last

    def real_seconds(self, simulated: timedelta) -> float:
        """How long, in real seconds, a stretch of simulated time lasts on this clock."""
        return simulated.total_seconds() / self._speed


def clock_from(settings: FourfoldSettings, *, wall: Clock | None = None) -> Clock:
    """The clock the settings ask for: the system clock unless a start or a speed is set."""
    wall = wall or SystemClock()
    start, anchor = settings.clock_start, settings.clock_anchor
    if start is None and settings.clock_speed == 1 and anchor is None:
        return SystemClock()
    real_now = wall.now()
    origin = anchor or real_now
    return ScaledClock(
        start=start or origin,
        speed=settings.clock_speed,
        elapsed_at_origin=(real_now - origin).total_seconds(),
    )
