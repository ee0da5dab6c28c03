"""The services' clock under `make dev`: the wall clock, or behind it while history replays.

health-scoring stamps every score (and so the 7- and 30-day trend) with its clock at the
moment it processes an event, not with the event's time. For the demo book to show trends
from its first minute, `make dev` replays the demo's past with the services' clock set to
each past day in turn: the stack writes the offset (seconds behind the wall clock) to
`<state_dir>/dev/clock-offset`, every service reads it on each `now()`, and the offset only
ever shrinks, to zero when the replay ends (the file is then removed). The clock therefore
never runs backwards; with no file it is exactly the wall clock.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fourfold.dev.state import dev_dir


def offset_path(state_dir: Path) -> Path:
    return dev_dir(state_dir) / "clock-offset"


class DevClock:
    """A Clock (fourfold.clock) shared by every process of one dev stack."""

    def __init__(self, state_dir: Path) -> None:
        self._path = offset_path(state_dir)

    def now(self) -> datetime:
        return datetime.now(UTC) - self.behind()

    def behind(self) -> timedelta:
        """How far the services' clock is behind the wall clock (zero: none)."""
        try:
            return timedelta(seconds=float(self._path.read_text()))
        except (FileNotFoundError, ValueError):
            return timedelta(0)

    def set(self, when: datetime) -> None:
        """Move the shared clock to `when` (never backwards: an earlier `when` is an error)."""
        now = self.now()
        if when < now - timedelta(seconds=1):
            raise ValueError(f"the dev clock never runs backwards ({when} < {now})")
        behind = max(0.0, (datetime.now(UTC) - when).total_seconds())
        self._path.parent.mkdir(parents=True, exist_ok=True)
        partial = self._path.with_suffix(".tmp")
        partial.write_text(repr(behind))
        partial.replace(self._path)

    def start_behind(self, delta: timedelta) -> None:
        """Before any service starts: run the clock `delta` behind the wall clock."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.write_text(repr(delta.total_seconds()))

    def catch_up(self) -> None:
        """Back to the wall clock, for good."""
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
