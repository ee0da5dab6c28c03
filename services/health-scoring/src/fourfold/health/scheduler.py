"""Time moves scores without events: rescore the customers whose windows changed.

Each customer row carries `next_recompute_at`: the domain's next instant at which time alone
can change its score, band or step (`next_time_change`), capped at one day so history and
trend get a point at least daily. `recompute_due(now)` rescores the rows due by `now`, one
transaction per chunk, skipping rows a consumer batch holds. The loop asks the injected
clock for `now`, so tests drive it with a ManualClock and call `recompute_due` directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fourfold.clock import Clock
from fourfold.health import repository
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.metrics import SCHEDULED_RECOMPUTES
from fourfold.health.rescoring import changed_events, rescore
from fourfold.kafka.outbox import stage
from fourfold.service.stopping import every_interval_until_stopped

log = logging.getLogger(__name__)


class Recomputer:
    """Rescores due customers on an interval; `stop()` ends the loop after the chunk in hand."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        scorecard: Scorecard,
        clock: Clock,
        interval_s: float,
        batch_size: int = 500,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._scorecard = scorecard
        self._clock = clock
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._on_committed = on_committed
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def recompute_due(self, now: datetime) -> int:
        """Rescore every customer due by `now`; return how many were rescored."""
        total = 0
        while True:
            count = await self._recompute_chunk(now)
            total += count
            if count < self._batch_size:
                break
        SCHEDULED_RECOMPUTES.inc(total)
        return total

    async def _recompute_chunk(self, now: datetime) -> int:
        async with self._sessions() as session, session.begin():
            due = await repository.lock_due_customers(session, now, self._batch_size)
            evaluations = await rescore(
                session, dict(due), scorecard=self._scorecard, now=now, cause="schedule"
            )
            events = changed_events(evaluations)
            await stage(session, self._outbox, events)
        if events and self._on_committed is not None:
            self._on_committed()
        return len(due)

    async def run(self) -> None:
        """Recompute, then wait `interval_s`, until stopped; a failure is logged and retried."""
        await every_interval_until_stopped(
            self._stopping,
            self._interval_s,
            lambda: self.recompute_due(self._clock.now()),
            log=log,
            failure="scheduled recompute failed; retrying next interval",
        )
