"""Announcements (ledger.announce) of every kind are what the contract accepts, and read back
equal: amounts in the currency's minor unit (BHD, 3 digits), ids and texts in bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fourfold.events import IncentiveAccrued, IncentiveReversed, parse_event
from fourfold.incentives.domain.accrual import Accrual
from fourfold.incentives.domain.program import ProgramSet
from fourfold.incentives.ledger import announce
from fourfold.incentives.samples import Customer

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_every_kind_of_announcement_satisfies_the_contract(programs: ProgramSet) -> None:
    c = Customer("c-1", "p-1", "BHD")
    life = [
        c.created(T0, "1.2345"),
        c.milestone(T0 + timedelta(days=5), "first_value"),
        c.expanded(T0 + timedelta(days=6), "3.0000"),
        c.contracted(T0 + timedelta(days=7), "2.0000"),
        c.cancelled(T0 + timedelta(days=8)),
    ]
    entries = Accrual(programs=programs).run(life)
    assert {e.kind for e in entries} == {"accrual", "reversal"}
    now = T0 + timedelta(days=9)
    for entry in entries:
        event = announce(entry, "2026-03", now)
        parsed = parse_event(event.to_json_bytes())
        assert type(parsed) is type(event)
        assert isinstance(parsed, IncentiveAccrued | IncentiveReversed)
        assert parsed == type(event).model_validate(event.model_dump())
        assert parsed.data.amount.amount == entry.amount
        assert parsed.id == entry.entry_id
