"""Background loops that wait between rounds yet stop at once when asked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def pause_unless_stopped(stopping: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stopping` is set meanwhile (a SIGTERM must not wait out
    a retry pause or a scheduler interval)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


async def every_interval_until_stopped(
    stopping: asyncio.Event,
    interval_s: float,
    work: Callable[[], Awaitable[object]],
    *,
    log: logging.Logger,
    failure: str,
) -> None:
    """Run `work`, then wait `interval_s`, until `stopping` is set. A failing round is logged
    as `failure` on the caller's `log` and the loop goes on: the database being away must
    not end a background loop for good."""
    while not stopping.is_set():
        try:
            await work()
        except Exception:
            log.exception(failure)
        await pause_unless_stopped(stopping, interval_s)
