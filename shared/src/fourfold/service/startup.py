"""Where a service's start goes: each step timed, one log line once the process is up.

A restarted replica is not consuming until its start is done, so the start is what recovery
after a kill costs (docs/runtime.md, "Start-up"). The line gives the seconds since the
process was created (the interpreter and the imports included, read from /proc where there
is one) and each step's own seconds; steps run together overlap in it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def process_age_s() -> float | None:
    """Seconds since this process was created, or None where /proc does not tell."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime_s = float(Path("/proc/uptime").read_text().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return uptime_s - int(fields[19]) / ticks  # field 22 of stat: start time after boot


class StartSteps:
    """The start's steps by name and their seconds, logged together by `done()`."""

    def __init__(self, role: str) -> None:
        self._role = role
        self._began = time.monotonic()
        self._age_at_begin = process_age_s()
        self.seconds: dict[str, float] = {}

    async def timed(self, name: str, step: Awaitable[T]) -> T:
        """Await `step`, keeping its seconds under `name`."""
        began = time.monotonic()
        try:
            return await step
        finally:
            self.seconds[name] = round(time.monotonic() - began, 3)

    def done(self) -> None:
        lifespan_s = time.monotonic() - self._began
        before_s = self._age_at_begin
        log.info(
            "started",
            extra={
                "role": self._role,
                "before_lifespan_s": None if before_s is None else round(before_s, 3),
                "lifespan_s": round(lifespan_s, 3),
                "steps_s": self.seconds,
            },
        )
