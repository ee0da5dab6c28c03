"""Background loops that wait between rounds yet stop at once when asked."""

from __future__ import annotations

import asyncio
import contextlib


async def pause_unless_stopped(stopping: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stopping` is set meanwhile (a SIGTERM must not wait out
    a retry pause or a scheduler interval)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
