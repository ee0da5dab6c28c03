"""Time makes adoption bonuses due without an event: the adoption sweep.

`adoption_bonus` pays when a customer has stayed green for N days after first_value. The
event path notices it when the customer's next event arrives; a customer who goes green and
then sends nothing would wait forever. The sweep walks, at the injected clock's `now`, the
customers that may have completed a streak (`repository.adoption_candidates`), one
transaction per chunk, through the same use case as a consumer batch
(`ledger.accrue_customers` with `sweep_at=now`): the same customer locks, caps and entry
identity (source `adoption:<customer>`, rule, partner), so the sweep and the event path
together pay a streak once, whichever comes first, on any replica.
"""

from __future__ import annotations

from datetime import datetime
from typing import Unpack

from fourfold.incentives import repository
from fourfold.incentives.ledger import accrue_customers
from fourfold.incentives.metrics import ADOPTION_SWEEP_BONUSES
from fourfold.incentives.programs import Programs
from fourfold.kafka.outbox import stage
from fourfold.service.scheduled import PassShell, ScheduledPass


class AdoptionSweep(ScheduledPass):
    """Pays due adoption bonuses on an interval; `sweep(now)` is one pass (tests call it)."""

    failure = "adoption sweep failed; retrying next interval"

    def __init__(self, *, programs: Programs, **shell: Unpack[PassShell]) -> None:
        super().__init__(**shell)
        self._programs = programs

    async def run_pass(self, now: datetime) -> int:
        return await self.sweep(now)

    async def sweep(self, now: datetime) -> int:
        """Walk every candidate customer by `now`; return how many bonuses it appended."""
        after, paid = "", 0
        while not self.stopping:
            async with self._sessions() as session, session.begin():
                programs = await self._programs.current(session)
                days = [
                    p.rules.adoption_bonus.green_days
                    for p in programs.versions
                    if p.rules.adoption_bonus is not None
                ]
                if not days:
                    return paid
                customers = await repository.adoption_candidates(
                    session, now=now, green_days=min(days), after=after, limit=self._batch_size
                )
                if not customers:
                    return paid
                written, events = await accrue_customers(
                    session, customers, fresh=[], programs=programs, now=now, sweep_at=now
                )
                await stage(session, self._outbox, events)
            self.committed(bool(events))
            bonuses = sum(1 for e in written if e.rule == "adoption_bonus")
            ADOPTION_SWEEP_BONUSES.inc(bonuses)
            paid += bonuses
            after = customers[-1]
            if len(customers) < self._batch_size:
                break
        return paid
