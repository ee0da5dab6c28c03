"""What `make dev` simulates: the vendor, its run, the demo clock, and the partner to show.

The stack runs `fourfold simulate` in its own process (`fourfold.simulator.command.post_live`)
through the gateway, on the same `DemoClock` the services get. The run starts
`history_days` before the clock's start, so those days go out at once and a newcomer's first
look finds customers with scores, incentives and open nudges; from then on one simulated
day passes every `seconds_per_day`.

The partner the banner's commands show is chosen from the simulation itself: one with a
customer stalled in Implement long enough for an `implement_stalled` nudge, and the most
customers signed up by the clock's start.

With `--keep-state` the run goes on where the last one stopped: the same run start and
seed (so every event already sent has the same id and ingest's kept duplicates ledger
answers `duplicate`: nothing is counted twice) and the simulated time the last run reached,
kept in `<state_dir>/dev/simulation.json`.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from fourfold.clock import Clock
from fourfold.dev.clock import DEFAULT_SECONDS_PER_DAY, DemoClock
from fourfold.dev.state import dev_dir
from fourfold.simulator.archetypes import Archetype
from fourfold.simulator.timeline import Timeline
from fourfold.simulator.vendor import MAX_PARTNERS, Vendor, build_vendor

DEFAULT_HISTORY_DAYS = 30
STALLED_AFTER_DAYS = 22
"""A staller signed up this long before the clock's start has a stalled-onboarding nudge
(notifications' default `min_age_days` is 21)."""


@dataclass(frozen=True)
class DevOptions:
    """What `fourfold dev` was asked for."""

    keep_state: bool = False
    port_offset: int = 0
    history_days: int = DEFAULT_HISTORY_DAYS
    seconds_per_day: float = DEFAULT_SECONDS_PER_DAY
    seed: int = 1
    partners: int = 36
    customers: int = 300
    stripe: bool = False

    def problem(self) -> str | None:
        """What makes these options unusable, in words; None if nothing."""
        if not self.seconds_per_day > 0:
            return "--seconds-per-day must be positive"
        if self.history_days < 0:
            return "--history-days must be at least 0"
        if not 1 <= self.partners <= MAX_PARTNERS:
            return f"--partners must be within 1..{MAX_PARTNERS}"
        if self.customers < 0:
            return "--customers must be at least 0"
        return None


@dataclass(frozen=True)
class Simulation:
    """The simulated vendor's run under one dev stack, and the clock it runs on."""

    clock: DemoClock
    timeline: Timeline
    partner: str
    """The partner the banner shows."""
    stripe_secret: str

    @property
    def vendor(self) -> Vendor:
        return self.timeline.vendor

    def save(self, state_dir: Path, clock: Clock) -> None:
        """Keep where the run got to, for a `--keep-state` start."""
        kept = _Kept(
            run_start=self.timeline.start.isoformat(),
            reached=clock.now().isoformat(),
            seed=self.vendor.seed,
            partners=len(self.vendor.partners),
            customers=len(self.vendor.customers),
        )
        path = _kept_path(state_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(kept), indent=2))


@dataclass(frozen=True)
class _Kept:
    run_start: str
    reached: str
    seed: int
    partners: int
    customers: int


def _kept_path(state_dir: Path) -> Path:
    return dev_dir(state_dir) / "simulation.json"


def _kept(state_dir: Path, options: DevOptions) -> _Kept | None:
    """The last run's record when it was the same simulation (seed and size)."""
    with contextlib.suppress(FileNotFoundError, ValueError, TypeError, KeyError):
        kept = _Kept(**json.loads(_kept_path(state_dir).read_text()))
        same = (kept.seed, kept.partners, kept.customers)
        if same == (options.seed, options.partners, options.customers):
            return kept
    return None


def plan_simulation(state_dir: Path, options: DevOptions, *, now: datetime) -> Simulation:
    """The run to simulate: fresh (starting `history_days` before `now`), or, with
    `keep_state`, the last one resumed at the simulated time it reached."""
    kept = _kept(state_dir, options) if options.keep_state else None
    if kept is not None:
        reached = datetime.fromisoformat(kept.reached)
        clock = DemoClock.starting(now, seconds_per_day=options.seconds_per_day, at=reached)
        run_start = date.fromisoformat(kept.run_start)
    else:
        clock = DemoClock.starting(now, seconds_per_day=options.seconds_per_day)
        run_start = clock.start.date() - timedelta(days=options.history_days)
    vendor = build_vendor(seed=options.seed, partners=options.partners, customers=options.customers)
    timeline = Timeline(vendor, start=run_start)
    days_in = (clock.start.date() - run_start).days
    return Simulation(
        clock=clock,
        timeline=timeline,
        partner=showcase_partner(vendor, days_in=days_in),
        stripe_secret="whsec_" + secrets.token_urlsafe(24),
    )


def showcase_partner(vendor: Vendor, *, days_in: int) -> str:
    """The partner whose data shows most at the clock's start, `days_in` days into the run:
    one with a customer stalled long enough for a nudge if any has one, then the one with
    the most customers signed up, then by id."""
    signed = Counter(c.partner_id for c in vendor.customers if c.signup_day < days_in)
    stalled = {
        c.partner_id
        for c in vendor.customers
        if c.archetype is Archetype.STALLS_IN_IMPLEMENT
        and c.signup_day <= days_in - STALLED_AFTER_DAYS
    }
    ranked = sorted(
        vendor.partners,
        key=lambda p: (p.partner_id not in stalled, -signed[p.partner_id], p.partner_id),
    )
    return ranked[0].partner_id
