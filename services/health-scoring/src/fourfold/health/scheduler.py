"""Time moves scores without events: rescore the customers whose windows changed.

Each customer row carries `next_recompute_at`: the domain's next instant at which time alone
can change its score, band or step (`next_time_change`), capped at one day so history and
trend get a point at least daily. `recompute_due(now)` rescores the rows due by `now`, one
transaction per chunk, skipping rows a consumer batch holds. The loop asks the injected
clock for `now`, so tests drive it with a ManualClock and call `recompute_due` directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Unpack

from fourfold.health import repository
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.metrics import SCHEDULED_RECOMPUTES
from fourfold.health.rescoring import changed_events, rescore
from fourfold.kafka.outbox import stage
from fourfold.service.scheduled import PassShell, ScheduledPass


class Recomputer(ScheduledPass):
    """Rescores due customers on an interval; `stop()` ends the loop after the chunk in hand."""

    default_batch_size = 500
    failure = "scheduled recompute failed; retrying next interval"

    def __init__(self, *, scorecard: Scorecard, **shell: Unpack[PassShell]) -> None:
        super().__init__(**shell)
        self._scorecard = scorecard

    async def run_pass(self, now: datetime) -> int:
        return await self.recompute_due(now)

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
        self.committed(bool(events))
        return len(due)
