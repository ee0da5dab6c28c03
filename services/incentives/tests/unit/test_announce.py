"""Announcements (ledger.announce) of every kind are what the contract accepts, and read back
equal: amounts in the currency's minor unit (BHD, 3 digits), ids and texts in bounds.

`announce` encodes its bytes with orjson, no pydantic model built: these tests prove, for
every kind of entry the walk makes, that the bytes validate against the published JSON
Schema (docs/events/v1/incentive.*.json) and parse to the event the models would build
from the same entry (the road the encoder replaced)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fourfold.events import (
    INCENTIVES_TOPIC,
    Envelope,
    IncentiveAccrued,
    IncentiveAccruedData,
    IncentiveReversed,
    IncentiveReversedData,
    MoneyTotal,
    parse_event,
)
from fourfold.incentives.domain.accrual import Accrual
from fourfold.incentives.domain.entries import Entry, adjustment_of
from fourfold.incentives.domain.program import ProgramSet
from fourfold.incentives.ledger import SOURCE, announce
from fourfold.incentives.samples import Customer
from fourfold.kafka.outbox import EncodedEvent

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
EVENTS = Path(__file__).parents[4] / "docs/events/v1"


def _contract(event_type: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((EVENTS / f"{event_type}.json").read_text())
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


CONTRACTS = {t: _contract(t) for t in ("incentive.accrued", "incentive.reversed")}


def modelled(entry: Entry, period: str, now: datetime) -> Envelope:
    """The event as the pydantic models build it from an entry."""
    amount = MoneyTotal(amount=entry.amount, currency=entry.currency)
    if entry.kind == "reversal" and entry.reverses is not None:
        return IncentiveReversed(
            id=entry.entry_id,
            source=SOURCE,
            type="incentive.reversed",
            time=now,
            data=IncentiveReversedData(
                entry_id=entry.entry_id,
                reverses_entry_id=entry.reverses,
                partner_id=entry.partner_id,
                customer_id=entry.customer_id,
                amount=amount,
                reason=entry.inputs.get("reason", entry.rule)[:500],
                source_event_id=entry.source_event_id[:128],
            ),
        )
    return IncentiveAccrued(
        id=entry.entry_id,
        source=SOURCE,
        type="incentive.accrued",
        time=now,
        data=IncentiveAccruedData(
            entry_id=entry.entry_id,
            partner_id=entry.partner_id,
            customer_id=entry.customer_id,
            program_id=entry.program_id,
            program_version=entry.program_version,
            rule=entry.rule,
            amount=amount,
            source_event_id=entry.source_event_id[:128],
            period=period,
        ),
    )


def check_announcement(entry: Entry, period: str, now: datetime) -> Envelope:
    """The encoded announcement of `entry` meets its contract and is the modelled event."""
    encoded = announce(entry, period, now)
    assert isinstance(encoded, EncodedEvent)
    CONTRACTS[encoded.type].validate(json.loads(encoded.payload))
    parsed = parse_event(encoded.payload)
    expected = modelled(entry, period, now)
    assert parsed == expected
    assert (encoded.topic, encoded.key, encoded.type) == (
        INCENTIVES_TOPIC,
        expected.key,
        expected.type,
    )
    return parsed


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
        parsed = check_announcement(entry, "2026-03", now)
        assert isinstance(parsed, IncentiveAccrued | IncentiveReversed)
        assert parsed.data.amount.amount == entry.amount
        assert parsed.id == entry.entry_id


@pytest.mark.parametrize(
    "amount", ["0", "0.0000", "-12.5", "1E+3", "0E-4", "123456789012345678.9999"]
)
@pytest.mark.parametrize("reason", [None, "r" * 600, "a reason é ✓"])
def test_adjustments_and_odd_amounts_encode_as_the_models_would(
    programs: ProgramSet, amount: str, reason: str | None
) -> None:
    """An adjustment (a dispute's, a recalculation's, a cap's), any amount form a Decimal
    takes (exponents, zeros, the widest total), a long or non-ASCII reason, a long source
    event id: the bytes are still the contract's and parse to the model's event (the
    amount as plain decimal text, where the model would write `1E+3`)."""
    c = Customer("c-1", "p-1", "EUR")
    (original,) = Accrual(programs=programs).run([c.created(T0, "10.00")])
    inputs: dict[str, Any] = {} if reason is None else {"reason": reason}
    adjusted = adjustment_of(
        original,
        source_event_id="dispute:" + "x" * 200,
        amount=Decimal(amount),
        event_time=T0,
        payable_at=T0,
        inputs=inputs,
    )
    reversal = dataclasses.replace(adjusted, kind="reversal")
    for entry in (adjusted, reversal):
        check_announcement(entry, "2026-04", T0 + timedelta(hours=1))
