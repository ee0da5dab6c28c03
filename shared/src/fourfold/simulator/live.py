"""The live mode: send each simulated event once the clock has reached its time.

On a `ScaledClock` (FOURFOLD_CLOCK_SPEED) the vendor's days pass in seconds; events already
in the clock's past (the history before now) go out at once, in batches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from typing import Any, Protocol

from fourfold.clock import Clock
from fourfold.simulator.sink import EventSink
from fourfold.simulator.wire import Planned

log = logging.getLogger(__name__)


class Run(Protocol):
    """A simulated run: `Timeline`, or `StripeTimeline` (the same run, billing as Stripe's)."""

    @property
    def start(self) -> date: ...

    def events(self, days: int | None = None) -> Iterator[Planned]: ...


FLUSH_EVENTS = 1000
"""Due events held at most before they are sent (history goes out in chunks this size)."""


async def run_live(
    timeline: Run,
    *,
    clock: Clock,
    sink: EventSink,
    days: int | None = None,
    poll_s: float = 0.25,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Send the timeline's events as the clock reaches them; return how many were sent.

    Runs `days` simulated days, or until cancelled when `days` is None. The clock is read,
    never set: every event keeps the simulated time it was planned at, and goes out no
    earlier than that time on the clock.
    """
    pending: list[dict[str, Any]] = []
    sent = 0
    for planned in timeline.events(days):
        while planned.at > clock.now():
            if pending:
                await sink.send(pending)
                sent += len(pending)
                pending = []
            else:
                await sleep(poll_s)
        pending.append(planned.event)
        if len(pending) >= FLUSH_EVENTS:
            await sink.send(pending)
            sent += len(pending)
            pending = []
    if pending:
        await sink.send(pending)
        sent += len(pending)
    log.info("simulation finished", extra={"events": sent})
    return sent
