"""Retroactive recalculation and what-if: the same pure walk over the kept events.

- recalculate: re-run every event up to the range's end with `program` in force for the
  events in [from, to); for each entry of that range, the difference between what the
  program gives and what the ledger holds (the entry plus what already adjusts it, except
  dispute settlements) becomes an adjustment in the current open period, referencing the
  entry it adjusts; an entry the program gives that the ledger never had is appended itself
  (its own identity, in the open period), so nothing references an entry that does not
  exist. Paid periods are never edited. Running it again finds no difference,
  so it adds nothing. Runs take one lock, so two never interleave. The adjustments count
  against the caps of the months they adjust (domain/caps.py): a positive one is cut to
  what is left of its month's cap, under that month's lock.
- what_if: the same walk with a candidate program, summed per partner and rule beside what
  the ledger holds for the range; it writes nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.incentives import queries, repository
from fourfold.incentives.domain.accrual import effective_time, replay
from fourfold.incentives.domain.caps import cap_adjustments, cap_key, counts_toward_cap
from fourfold.incentives.domain.entries import Entry, adjustment_of, period_of
from fourfold.incentives.domain.program import Program, ProgramSet
from fourfold.incentives.ledger import append_entries
from fourfold.incentives.schemas import Adjustment, WhatIfRow
from fourfold.incentives.views import money
from fourfold.kafka.outbox import EncodedEvent

ZERO = Decimal(0)


def _in(entry: Entry, start: datetime, end: datetime) -> bool:
    return start <= entry.event_time < end


async def _expected(
    session: AsyncSession, programs: ProgramSet, program: Program, start: datetime, end: datetime
) -> tuple[list[Entry], int]:
    history = await repository.all_history(session, until=end)
    history = [e for e in history if effective_time(e) < end]
    entries, _ = replay(history, programs.with_fixed(program, since=start))
    return [e for e in entries if _in(e, start, end)], len(history)


async def recalculate(
    session: AsyncSession,
    *,
    programs: ProgramSet,
    program: Program,
    start: datetime,
    end: datetime,
    by: str,
    now: datetime,
) -> tuple[str, str, list[Entry], list[EncodedEvent]]:
    """Append the adjustments that bring [start, end) to what `program` gives."""
    await repository.lock(session, ["recalculation"])
    expected, _ = await _expected(session, programs, program, start, end)
    actual = await repository.all_entries(session)
    targets: dict[str, Entry] = {e.entry_id: e for e in actual if e.kind != "adjustment"}
    net: dict[str, Decimal] = defaultdict(Decimal)
    for entry in actual:
        if entry.source_event_id.startswith("dispute:"):
            continue
        target = entry.reverses if entry.kind == "adjustment" else entry.entry_id
        if target is not None:
            net[target] += entry.amount
    wanted = {e.entry_id: e for e in expected}
    run_id = str(uuid.uuid4())
    source = f"recalc:{run_id}"
    adjustments: list[Entry] = []
    for entry_id in sorted(set(wanted) | {i for i, e in targets.items() if _in(e, start, end)}):
        model = wanted.get(entry_id) or targets[entry_id]
        expected_amount = wanted[entry_id].amount if entry_id in wanted else ZERO
        difference = expected_amount - net.get(entry_id, ZERO)
        if difference == 0:
            continue
        if entry_id not in targets and entry_id not in net:  # the ledger never had it
            run = {"reason": "recalculation", "run_id": run_id}
            adjustments.append(replace(model, payable_at=now, inputs={**model.inputs, **run}))
            continue
        adjustments.append(
            adjustment_of(
                model,
                source_event_id=source,
                amount=difference,
                event_time=model.event_time,
                payable_at=now,
                program=(program.program_id, program.version),
                inputs={
                    "reason": "recalculation",
                    "run_id": run_id,
                    "expected": str(expected_amount),
                    "was": str(net.get(entry_id, ZERO)),
                },
            )
        )
    adjustments = await _capped(session, adjustments, programs, program)
    period = period_of(now)
    written, events = await append_entries(session, adjustments, now=now, period=period)
    await session.execute(
        text(
            "INSERT INTO recalculations (run_id, program_version, range_from, range_to, "
            "requested_by, at, adjustments, summary) VALUES (:r, :v, :f, :t, :by, :at, :n, "
            "CAST(:s AS jsonb))"
        ),
        {
            "r": run_id,
            "v": program.version,
            "f": start,
            "t": end,
            "by": by,
            "at": now,
            "n": len(written),
            "s": "{}",
        },
    )
    return run_id, period, written, events


async def _capped(
    session: AsyncSession, adjustments: list[Entry], programs: ProgramSet, program: Program
) -> list[Entry]:
    """The adjustments against the caps of the months they adjust, under those months'
    locks (domain/caps.py): a positive one is cut to what is left, one cut to zero dropped."""
    keys = sorted({cap_key(a) for a in adjustments if counts_toward_cap(a)})
    if not keys:
        return adjustments
    await repository.lock(session, [repository.cap_lock(p, month) for p, month, _ in keys])
    used, _ = await repository.cap_used(session, keys)

    def cap_of(entry: Entry) -> Decimal | None:
        owner = program if entry.program_version == program.version else None
        owner = owner or programs.by_version(entry.program_version) or program
        return owner.caps.per_period.get(entry.currency)

    return cap_adjustments(adjustments, used, cap_of)


def adjustment_view(entry: Entry) -> Adjustment:
    return Adjustment(
        entry_id=entry.entry_id,
        adjusts_entry_id=entry.reverses if entry.kind == "adjustment" else None,
        partner_id=entry.partner_id,
        customer_id=entry.customer_id,
        rule=entry.rule,
        amount=money(entry.amount, entry.currency),
        currency=entry.currency,
    )


async def what_if(
    session: AsyncSession, *, programs: ProgramSet, program: Program, start: datetime, end: datetime
) -> tuple[list[WhatIfRow], int]:
    """Per partner, rule and currency: the ledger for [start, end) beside `program`'s answer."""
    expected, events = await _expected(session, programs, program, start, end)
    candidate: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for entry in expected:
        candidate[(entry.partner_id, entry.rule, entry.currency)] += entry.amount
    actual = {
        (r.partner_id, r.rule, r.currency): Decimal(r.amount)
        for r in await queries.actual_totals(session, start, end)
    }
    rows = []
    for key in sorted(set(candidate) | set(actual)):
        partner, rule, currency = key
        a, w = actual.get(key, ZERO), candidate.get(key, ZERO)
        rows.append(
            WhatIfRow(
                partner_id=partner,
                rule=rule,
                currency=currency,
                actual=money(a, currency),
                what_if=money(w, currency),
                difference=money(w - a, currency),
            )
        )
    return rows, events
