"""What is stored per customer: the domain's signals plus the fold's own bookkeeping, and
their JSON form (the `customers.signals` json column).

The bookkeeping is what the event contracts need beyond the domain's signals: when the
partner of record was last explicitly reassigned (so an older reassignment arriving late
cannot win), which invoices are failed and unpaid (so a retry of one invoice counts once, and
a payment clears exactly its invoice), and when the most recent invoices were paid (so a
failure that arrives after its invoice's payment but happened before it changes nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import orjson

from fourfold.health.domain.signals import (
    CustomerSignals,
    Expansion,
    ExpansionKind,
    Milestone,
    Money,
    PaymentState,
    Sentiment,
    SentimentKind,
    SubscriptionStatus,
    evolve,
)

NO_PARTNER = ""
"""The domain's partner id of a customer seen before its partner of record."""


PAID_INVOICES_KEPT = 50
"""How many paid invoices (the most recently paid) the state remembers to ignore late
failures of: a failure reported later than this many payments is not expected."""


@dataclass(frozen=True)
class CustomerState:
    signals: CustomerSignals
    partner_at: datetime | None = None
    """Effective time of the last explicit reassignment (`customer.partner_changed`); None
    while the partner of record only came from a subscription event."""
    failed_invoices: Mapping[str, datetime] = field(default_factory=dict)
    """Unpaid failed invoice id → its newest failure: a payment clears a failure at or before
    it, not a later charge of the same invoice (so folds commute and repeat harmlessly)."""
    paid_invoices: Mapping[str, datetime] = field(default_factory=dict)
    """Invoice id → when it was paid, for the `PAID_INVOICES_KEPT` most recently paid."""
    newest_ids: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per gauge where the newest fact wins (subscription, seats, sentiment, partner), the ids
    of the events at its newest instant: a second copy of one is not folded again."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "paid_invoices", MappingProxyType(dict(self.paid_invoices)))
        object.__setattr__(self, "failed_invoices", MappingProxyType(dict(self.failed_invoices)))
        object.__setattr__(self, "newest_ids", MappingProxyType(dict(self.newest_ids)))

    @property
    def customer_id(self) -> str:
        return self.signals.customer_id

    @property
    def partner_id(self) -> str | None:
        """The partner of record, or None while unknown."""
        return self.signals.partner_id or None

    @classmethod
    def new(cls, customer_id: str) -> CustomerState:
        """A customer nothing is known about yet."""
        return evolve(_BLANK, signals=evolve(_BLANK.signals, customer_id=customer_id))


_BLANK = CustomerState(CustomerSignals(customer_id="", partner_id=NO_PARTNER))
"""Every field at its default: new and loaded states are copies of it with their own values.
That skips the frozen dataclasses' constructors (a `setattr` per field, a third of loading a
state) yet still gives a field added later its default."""


def _text(at: datetime) -> str:
    """`at.isoformat()`, through orjson's RFC 3339 writer when `at` is in UTC (as every loaded
    time and billing date is): the same text (a unit test pins it) at a third of the cost,
    and every save writes all of a state's times again (paid invoices, milestones, ...)."""
    if at.tzinfo is UTC:
        return orjson.dumps(at)[1:-1].decode()
    return at.isoformat()


def _time(value: datetime | None) -> str | None:
    return None if value is None else _text(value)


_at = datetime.fromisoformat
_day = date.fromisoformat


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else _at(value)


_day_text = lru_cache(maxsize=4096)(date.isoformat)
"""A usage day's ISO text, memoised: every save writes the whole series (up to 120 days) again,
`isoformat` was the largest part of it, and only a few hundred days are ever live."""


def state_to_json(state: CustomerState) -> dict[str, Any]:
    """The JSON document of a state; `state_from_json` reads it back unchanged. The readable
    definition: the save writes the same document's bytes (`state_document`)."""
    s = state.signals
    return {
        "customer_id": s.customer_id,
        "partner_id": s.partner_id,
        "partner_changed_at": _time(state.partner_at),
        "plan": s.plan,
        "status": None if s.status is None else s.status.value,
        "seats_bought": s.seats_bought,
        "mrr": None if s.mrr is None else {"amount": str(s.mrr.amount), "currency": s.mrr.currency},
        "subscription_start": _time(s.subscription_start),
        "term_end": _time(s.term_end),
        "subscription_at": _time(s.subscription_at),
        "cancel_effective": _time(s.cancel_effective),
        "seats_in_use": s.seats_in_use,
        "seats_in_use_at": _time(s.seats_in_use_at),
        "active_users": [[_day_text(day), value] for day, value in s.active_users],
        "features_used": sorted(s.features_used),
        "features_available": s.features_available,
        "milestones": {m.value: _text(at) for m, at in sorted(s.milestones.items())},
        "payment": None
        if s.payment is None
        else {
            "failed_invoices": s.payment.failed_invoices,
            "past_due": s.payment.past_due,
            "at": _text(s.payment.at),
        },
        "failed_invoices": {i: _text(at) for i, at in sorted(state.failed_invoices.items())},
        "paid_invoices": {i: _text(at) for i, at in sorted(state.paid_invoices.items())},
        "sentiment": None
        if s.sentiment is None
        else {
            "kind": s.sentiment.kind.value,
            "value": s.sentiment.value,
            "at": _text(s.sentiment.at),
        },
        "expansions": [[e.kind.value, _text(e.at)] for e in s.expansions],
        "newest_event_ids": {g: sorted(ids) for g, ids in sorted(state.newest_ids.items())},
    }


def state_document(state: CustomerState) -> bytes:
    """`state_to_json(state)` as the JSON bytes the upsert binds, byte for byte, without the
    texts: orjson writes the times (as `isoformat` does, for offsets in whole minutes as RFC
    3339 and so every event time has them), the usage days, the enums and the tuples itself,
    where the plain document calls a function per time and per usage day (a unit property
    pins the bytes). The upsert's JSON array takes the bytes as they are (`fourfold.db.bulk`)."""
    s = state.signals
    mrr, payment, sentiment = s.mrr, s.payment, s.sentiment
    return orjson.dumps(
        {
            "customer_id": s.customer_id,
            "partner_id": s.partner_id,
            "partner_changed_at": state.partner_at,
            "plan": s.plan,
            "status": s.status,
            "seats_bought": s.seats_bought,
            "mrr": None if mrr is None else {"amount": str(mrr.amount), "currency": mrr.currency},
            "subscription_start": s.subscription_start,
            "term_end": s.term_end,
            "subscription_at": s.subscription_at,
            "cancel_effective": s.cancel_effective,
            "seats_in_use": s.seats_in_use,
            "seats_in_use_at": s.seats_in_use_at,
            "active_users": s.active_users,
            "features_used": sorted(s.features_used),
            "features_available": s.features_available,
            "milestones": {m.value: at for m, at in sorted(s.milestones.items())},
            "payment": None
            if payment is None
            else {
                "failed_invoices": payment.failed_invoices,
                "past_due": payment.past_due,
                "at": payment.at,
            },
            "failed_invoices": dict(sorted(state.failed_invoices.items())),
            "paid_invoices": dict(sorted(state.paid_invoices.items())),
            "sentiment": None
            if sentiment is None
            else {"kind": sentiment.kind, "value": sentiment.value, "at": sentiment.at},
            "expansions": [(e.kind, e.at) for e in s.expansions],
            "newest_event_ids": {g: sorted(ids) for g, ids in sorted(state.newest_ids.items())},
        }
    )


_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


def _failed_invoices(doc: dict[str, Any]) -> MappingProxyType[str, datetime]:
    """Unpaid failures by invoice; a document written before their times were kept lists ids
    only, read as failed long ago (any payment of the invoice clears them, as it did)."""
    if "failed_invoices" in doc:
        return MappingProxyType({i: _at(at) for i, at in doc["failed_invoices"].items()})
    return MappingProxyType(dict.fromkeys(doc.get("failed_invoice_ids", ()), _LONG_AGO))


def state_from_json(doc: dict[str, Any]) -> CustomerState:
    """Rebuild a state from its JSON document."""
    mrr, payment, sentiment = doc.get("mrr"), doc.get("payment"), doc.get("sentiment")
    status = doc.get("status")
    signals = evolve(
        _BLANK.signals,
        customer_id=doc["customer_id"],
        partner_id=doc.get("partner_id") or NO_PARTNER,
        plan=doc.get("plan"),
        status=None if status is None else SubscriptionStatus(status),
        seats_bought=doc.get("seats_bought"),
        mrr=None if mrr is None else Money(Decimal(mrr["amount"]), mrr["currency"]),
        subscription_start=_parse_time(doc.get("subscription_start")),
        term_end=_parse_time(doc.get("term_end")),
        subscription_at=_parse_time(doc.get("subscription_at")),
        cancel_effective=_parse_time(doc.get("cancel_effective")),
        seats_in_use=doc.get("seats_in_use"),
        seats_in_use_at=_parse_time(doc.get("seats_in_use_at")),
        active_users=tuple([(_day(day), int(value)) for day, value in doc.get("active_users", ())]),
        features_used=frozenset(doc.get("features_used", ())),
        features_available=doc.get("features_available"),
        milestones=MappingProxyType(
            {Milestone(m): _at(at) for m, at in doc.get("milestones", {}).items()}
        ),
        payment=None
        if payment is None
        else PaymentState(payment["failed_invoices"], payment["past_due"], _at(payment["at"])),
        sentiment=None
        if sentiment is None
        else Sentiment(SentimentKind(sentiment["kind"]), sentiment["value"], _at(sentiment["at"])),
        expansions=tuple(
            [Expansion(ExpansionKind(kind), _at(at)) for kind, at in doc.get("expansions", ())]
        ),
    )
    return evolve(
        _BLANK,
        signals=signals,
        # Documents written before explicit reassignments were told apart stored any event's
        # time as "partner_at": read as an owner without an explicit reassignment.
        partner_at=_parse_time(doc.get("partner_changed_at")),
        failed_invoices=_failed_invoices(doc),
        paid_invoices=MappingProxyType(
            {i: _at(at) for i, at in doc.get("paid_invoices", {}).items()}
        ),
        newest_ids=MappingProxyType(
            {g: frozenset(ids) for g, ids in doc.get("newest_event_ids", {}).items()}
        ),
    )
