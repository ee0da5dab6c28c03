"""Time moves rules without events: re-evaluate every snapshot on an interval, send digests.

A stalled customer sends no events, so `implement_stalled` can only fire here. Each round
walks all snapshots in customer order, one transaction per chunk: the chunk is read and
decided without locks, and only the customers whose nudges would change are locked (SKIP
LOCKED: a consumer batch holding one evaluates it itself), re-read and applied — a steady
pass writes nothing and locks nothing. Then the digests that are due are closed. The
loop asks the injected clock for `now`, so tests drive it with a ManualClock and call
`evaluate_all` directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Unpack

from fourfold.events import Envelope
from fourfold.kafka.outbox import stage
from fourfold.notifications import dispatch, repository
from fourfold.notifications.evaluation import Ruleset, changing, reevaluate
from fourfold.notifications.metrics import SCHEDULED_EVALUATIONS
from fourfold.service.scheduled import PassShell, ScheduledPass


class Evaluator(ScheduledPass):
    """Re-evaluates all snapshots on an interval; `stop()` ends the loop after the chunk."""

    default_batch_size = 1_000
    failure = "scheduled evaluation failed; retrying next interval"

    def __init__(self, *, ruleset: Ruleset, **shell: Unpack[PassShell]) -> None:
        super().__init__(**shell)
        self._ruleset = ruleset

    async def run_pass(self, now: datetime) -> int:
        return await self.evaluate_all(now)

    async def evaluate_all(self, now: datetime) -> int:
        """Evaluate every snapshot at `now`, then send due digests; return snapshots seen."""
        total, after = 0, None
        while not self.stopping:
            count, after = await self._chunk(now, after)
            total += count
            if count < self._batch_size:
                break
        SCHEDULED_EVALUATIONS.inc(total)
        while await self._digests(now):
            pass
        return total

    async def _chunk(self, now: datetime, after: str | None) -> tuple[int, str | None]:
        events: list[Envelope] = []
        async with self._sessions() as session, session.begin():
            chunk = await repository.snapshot_chunk(session, after=after, limit=self._batch_size)
            due = await changing(session, chunk, ruleset=self._ruleset, now=now)
            if due:
                locked = await repository.lock_free_snapshots(session, due)
                events = await reevaluate(session, locked, ruleset=self._ruleset, now=now)
                await stage(session, self._outbox, events)
        self.committed(bool(events))
        return len(chunk), chunk[-1].customer_id if chunk else after

    async def _digests(self, now: datetime) -> int:
        async with self._sessions() as session, session.begin():
            closed = await dispatch.send_due_digests(session, now=now)
        self.committed(bool(closed))
        return closed
