"""A ledger entry as the rules produce it, and the ledger of one customer as they read it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

Kind = Literal["accrual", "reversal", "adjustment"]

_NAMESPACE = uuid.UUID("6f1c0f5e-8d7a-4a43-9b52-3c2d1e0f9a77")


def entry_id_for(
    *, source_event_id: str, rule: str, partner_id: str, reverses: str | None = None
) -> str:
    """The entry's id from its identity (source event, rule, partner, what it reverses), so
    the same event accrues the same entry id however often it is processed."""
    key = "\x1f".join((source_event_id, rule, partner_id, reverses or ""))
    return _uuid5(key)


def _uuid5(name: str) -> str:
    """`str(uuid.uuid5(_NAMESPACE, name))` without building UUID objects (the hot path of
    every walk; tests check they agree)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE.bytes + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def period_of(at: datetime) -> str:
    """The calendar month (UTC) of an instant, `YYYY-MM`: the statement period."""
    return f"{at.year:04d}-{at.month:02d}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One amount for one partner, with what produced it."""

    entry_id: str
    partner_id: str
    customer_id: str
    rule: str
    kind: Kind
    amount: Decimal
    currency: str
    event_time: datetime
    payable_at: datetime
    source_event_id: str
    program_id: str
    program_version: str
    reverses: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        return (self.source_event_id, self.rule, self.partner_id, self.reverses)


@dataclass
class CustomerLedger:
    """A customer's entries so far: what clawbacks, corrections and once-only rules read."""

    entries: list[Entry] = field(default_factory=list)
    _ids: set[str] = field(default_factory=set)

    def add(self, entry: Entry) -> None:
        if entry.entry_id not in self._ids:
            self._ids.add(entry.entry_id)
            self.entries.append(entry)

    def has_id(self, entry_id: str) -> bool:
        return entry_id in self._ids

    def by_id(self, entry_id: str) -> Entry | None:
        for entry in self.entries:
            if entry.entry_id == entry_id:
                return entry
        return None

    def has_rule(self, rule: str) -> bool:
        return any(e.rule == rule and e.kind == "accrual" for e in self.entries)

    def accruals(self, *rules: str) -> list[Entry]:
        return [e for e in self.entries if e.kind == "accrual" and e.rule in rules]

    def referencing(self, entry_id: str) -> list[Entry]:
        return [e for e in self.entries if e.reverses == entry_id]

    def remaining(self, original: Entry) -> Decimal:
        """What is left of an entry after the reversals and adjustments that reference it."""
        return original.amount + sum(
            (e.amount for e in self.referencing(original.entry_id)), Decimal(0)
        )


def adjustment_of(
    target: Entry,
    *,
    source_event_id: str,
    amount: Decimal,
    event_time: datetime,
    payable_at: datetime,
    inputs: Mapping[str, str],
    program: tuple[str, str] | None = None,
) -> Entry:
    """An adjustment of `target` (same partner, customer, rule and currency) by `amount`,
    referencing it; `program` (id, version) defaults to the target's."""
    program_id, program_version = program or (target.program_id, target.program_version)
    return Entry(
        entry_id=entry_id_for(
            source_event_id=source_event_id,
            rule=target.rule,
            partner_id=target.partner_id,
            reverses=target.entry_id,
        ),
        partner_id=target.partner_id,
        customer_id=target.customer_id,
        rule=target.rule,
        kind="adjustment",
        amount=amount,
        currency=target.currency,
        event_time=event_time,
        payable_at=payable_at,
        source_event_id=source_event_id,
        program_id=program_id,
        program_version=program_version,
        reverses=target.entry_id,
        inputs=inputs,
    )
