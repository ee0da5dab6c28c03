"""Time moves rules without events: evaluate the snapshots that are due, send digests.

A stalled customer sends no events, so `implement_stalled` can only fire here. Every
snapshot records when time alone may next change what the rules answer for it
(`next_due_at`, from the pure `rules.next_due`, written by the consumer and by each pass),
and a nudge's snooze has its end: a round evaluates the snapshots due by `now` (either
kind), in customer order, one transaction per chunk, each chunk locked `FOR UPDATE SKIP
LOCKED` (a consumer batch holding one evaluates it itself), and records when each is due
next. The first round of a scheduler walks every snapshot instead (rows written before
`next_due_at` existed, or under another rule configuration, are due by then): read and
decided without locks, it locks, re-reads and applies only the customers whose nudges or
next due instant would change, so a restart where nothing changed writes nothing. Then the
digests that are due are closed. The loop asks the injected clock for `now`, so tests drive
it with a ManualClock and call `evaluate_all` directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Unpack

from fourfold.kafka.outbox import stage
from fourfold.notifications import dispatch, repository
from fourfold.notifications.evaluation import Ruleset, reevaluate, stale
from fourfold.notifications.metrics import SCHEDULED_EVALUATIONS
from fourfold.service.scheduled import PassShell, ScheduledPass


class Evaluator(ScheduledPass):
    """Evaluates the due snapshots on an interval; `stop()` ends the loop after the chunk."""

    default_batch_size = 1_000
    failure = "scheduled evaluation failed; retrying next interval"

    def __init__(self, *, ruleset: Ruleset, **shell: Unpack[PassShell]) -> None:
        super().__init__(**shell)
        self._ruleset = ruleset
        self._walked = False  # the first pass evaluates every snapshot

    async def run_pass(self, now: datetime) -> int:
        return await self.evaluate_all(now)

    async def evaluate_all(self, now: datetime, *, everything: bool = False) -> int:
        """Evaluate the snapshots due at `now` (every one on the first pass, or when
        `everything`), then send due digests; return how many snapshots were evaluated."""
        everything = everything or not self._walked
        total, after = 0, None
        while not self.stopping:
            count, after = await self._chunk(now, after, everything=everything)
            total += count
            if count < self._batch_size:
                self._walked = self._walked or everything
                break
        SCHEDULED_EVALUATIONS.inc(total)
        while await self._digests(now):
            pass
        return total

    async def _chunk(
        self, now: datetime, after: str | None, *, everything: bool
    ) -> tuple[int, str | None]:
        ruleset = self._ruleset
        async with self._sessions() as session, session.begin():
            if everything:  # read without locks; lock and apply only what would change
                read = await repository.snapshot_chunk(session, after=after, limit=self._batch_size)
                ids = await stale(session, read, ruleset=ruleset, now=now)
                chunk = await repository.due_snapshots(session, now=now, among=ids) if ids else []
                count, last = len(read), read[-1][0].customer_id if read else after
            else:
                chunk = await repository.due_snapshots(
                    session, now=now, after=after, limit=self._batch_size
                )
                count, last = len(chunk), chunk[-1].customer_id if chunk else after
            events = await reevaluate(session, chunk, ruleset=ruleset, now=now)
            await repository.set_due(session, chunk, ruleset.config, now)
            await stage(session, self._outbox, events)
        self.committed(bool(events))
        return count, last

    async def _digests(self, now: datetime) -> int:
        async with self._sessions() as session, session.begin():
            closed = await dispatch.send_due_digests(session, now=now)
        self.committed(bool(closed))
        return closed
