"""What counts against a partner's cap for a period, and how a correction is capped.

A cap (`caps.per_period`) is the most a partner earns for the activity of one calendar month
(of the event time) in one currency. It counts:

- accruals;
- the system's adjustments of them (a retroactive recalculation, a renewal re-priced for a
  band that arrived late), in the month of the entry they adjust, whichever statement they
  are paid on: a positive one is cut to what is left of that month's cap, a negative one
  frees what it takes back (the month's earnings really are lower);

and not:

- reversals (clawback, contraction): money taken back for churn does not free the cap;
- the adjustment of an accepted dispute: an admin's explicit decision on the amount,
  never cut and never counted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from fourfold.events.money import round_to_minor_unit
from fourfold.incentives.domain.entries import Entry, period_of

CapKey = tuple[str, str, str]
"""(partner, month of the event time, currency)."""

DISPUTE_SOURCE = "dispute:"
ZERO = Decimal(0)


def cap_key(entry: Entry) -> CapKey:
    return (entry.partner_id, period_of(entry.event_time), entry.currency)


def counts_toward_cap(entry: Entry) -> bool:
    """Accruals and the system's adjustments; not reversals nor dispute settlements."""
    if entry.kind == "accrual":
        return True
    return entry.kind == "adjustment" and not entry.source_event_id.startswith(DISPUTE_SOURCE)


def cap_adjustment(adjustment: Entry, cap: Decimal | None, used: Decimal) -> Entry:
    """A system adjustment against its month's cap (`used` already counted): a positive one
    cut to what is left (with `capped`, the uncut amount and the cap in its inputs), a
    negative one (or one without a cap) as it is."""
    if cap is None or adjustment.amount <= 0:
        return adjustment
    left = round_to_minor_unit(max(cap - used, ZERO), adjustment.currency)
    if adjustment.amount <= left:
        return adjustment
    inputs = {
        **adjustment.inputs,
        "uncapped": str(round_to_minor_unit(adjustment.amount, adjustment.currency)),
        "cap": str(cap),
        "capped": "true",
    }
    return dataclasses.replace(adjustment, amount=left, inputs=inputs)


def cap_adjustments(
    adjustments: Iterable[Entry],
    used: Mapping[CapKey, Decimal],
    cap_of: Callable[[Entry], Decimal | None],
) -> list[Entry]:
    """Cap a batch of system adjustments: the negative ones first (they free their month),
    then the positive ones in the order given, each cut to what is left; an adjustment cut
    to zero is dropped (there is nothing to append). Dispute settlements pass untouched."""
    pending = list(adjustments)
    running = dict(used)
    out: list[Entry] = []
    ordered = [e for e in pending if e.amount < 0] + [e for e in pending if e.amount >= 0]
    for entry in ordered:
        if not counts_toward_cap(entry):
            out.append(entry)
            continue
        key = cap_key(entry)
        capped = cap_adjustment(entry, cap_of(entry), running.get(key, ZERO))
        running[key] = running.get(key, ZERO) + capped.amount
        if capped.amount != 0:
            out.append(capped)
    order = {e.entry_id: i for i, e in enumerate(pending)}
    return sorted(out, key=lambda e: order[e.entry_id])
