"""The demo clock of a dev stack: one `ScaledClock` that every process builds alike.

`make dev` picks a simulated start (the wall clock's now at the stack's start), a speed (one
simulated day per `seconds_per_day` real seconds) and an anchor (the real instant at which
simulated time is the start), and hands the three to every service and to the simulator as
the `FOURFOLD_CLOCK_*` settings. Each process builds its clock with
`fourfold.clock.clock_from(settings)`, the same function production and tests go through
(where the settings are unset and the clock is the system clock): there is no second clock
mechanism for dev. Processes started one after another agree on the simulated time because
they share the anchor.

The services' schedulers run on real-time intervals; on a fast clock their defaults (a
health recompute a minute, a notifications evaluation every five) would be whole simulated
days apart, so `intervals_env` tightens them to a few simulated hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fourfold.clock import Clock, clock_from
from fourfold.settings import MAX_CLOCK_SPEED, FourfoldSettings

DAY_S = 86_400.0
DEFAULT_SECONDS_PER_DAY = 10.0
"""`make dev`'s pace: one simulated day per ten real seconds (speed 8640)."""
SCHEDULER_EVERY_SIMULATED = timedelta(hours=4)
"""How far apart, in simulated time, the services' time-based evaluations run in dev."""
STRIPE_TOLERANCE_REAL_S = 300
"""Stripe's signature tolerance, in real seconds, whatever the clock's speed."""


@dataclass(frozen=True)
class DemoClock:
    """The `FOURFOLD_CLOCK_*` values shared by every process of one dev stack."""

    start: datetime
    speed: float
    anchor: datetime

    @classmethod
    def starting(
        cls, now: datetime, *, seconds_per_day: float, at: datetime | None = None
    ) -> DemoClock:
        """From the real instant `now` on, simulated time runs from `at` (default: `now`)
        `DAY_S / seconds_per_day` times faster than real time (never slower)."""
        if not seconds_per_day > 0:
            raise ValueError("seconds per simulated day must be positive")
        speed = min(MAX_CLOCK_SPEED, max(1.0, DAY_S / seconds_per_day))
        return cls(start=now if at is None else at, speed=speed, anchor=now)

    @property
    def seconds_per_day(self) -> float:
        return DAY_S / self.speed

    def env(self) -> dict[str, str]:
        """The settings every process of the stack gets, as environment variables."""
        return {
            "FOURFOLD_CLOCK_START": self.start.isoformat(),
            "FOURFOLD_CLOCK_SPEED": repr(self.speed),
            "FOURFOLD_CLOCK_ANCHOR": self.anchor.isoformat(),
        }

    def settings(self) -> dict[str, object]:
        """The same values as settings fields, for a settings object built in this process."""
        return {"clock_start": self.start, "clock_speed": self.speed, "clock_anchor": self.anchor}

    def clock(self) -> Clock:
        """This process's clock on the stack's time (what `clock_from` gives every service)."""
        return clock_from(FourfoldSettings(**self.settings()))  # type: ignore[arg-type]

    def real_seconds(self, simulated: timedelta) -> float:
        return simulated.total_seconds() / self.speed

    def intervals_env(self) -> dict[str, str]:
        """Scheduler intervals a few simulated hours apart (never slower than the defaults)
        and a Stripe signature tolerance of five real minutes, on this clock's speed."""
        every = f"{max(0.5, min(60.0, self.real_seconds(SCHEDULER_EVERY_SIMULATED))):.3f}"
        return {
            "FOURFOLD_HEALTH_RECOMPUTE_INTERVAL_S": every,
            "FOURFOLD_NOTIFICATIONS_EVALUATE_INTERVAL_S": every,
            "FOURFOLD_INCENTIVES_ADOPTION_SWEEP_INTERVAL_S": every,
            "FOURFOLD_INGEST_STRIPE_TOLERANCE_S": str(round(STRIPE_TOLERANCE_REAL_S * self.speed)),
        }
