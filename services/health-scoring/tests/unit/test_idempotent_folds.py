"""Every fold is idempotent: an event folded again, at any later point of the stream, changes
nothing. The consumer runs in offsets mode and relies on it (an event id that reaches the
broker twice, at two offsets, is handed to the handler twice)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fourfold.events import Envelope
from fourfold.events.registry import INPUT_EVENT_TYPES as EVENT_TYPES
from fourfold.health.folding import fold_event
from fourfold.health.state import CustomerState

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CUSTOMER = "c1"

# Few distinct instants and values, so that ties (two facts at the same time) are common.
instants = st.integers(0, 4).map(lambda d: T0 + timedelta(days=d))
days = instants.map(lambda at: at.date().isoformat())
partners = st.sampled_from(["p1", "p2"])
invoices = st.sampled_from(["i1", "i2"])
money = st.sampled_from(["10.00", "20.00"]).map(lambda a: {"amount": a, "currency": "EUR"})
plans = st.sampled_from(["basic", "pro"])
seats = st.integers(1, 3)


def _subscription(draw: st.DrawFn) -> dict[str, Any]:
    return {"subscription_id": "s1", "customer_id": CUSTOMER, "partner_id": draw(partners)}


@st.composite
def data_of(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    if kind == "subscription.created":
        return {
            **_subscription(draw),
            "plan": draw(plans),
            "seats": draw(seats),
            "mrr": draw(money),
            "start_date": draw(days),
            "term_end": "2027-03-01",
            "features_available": draw(st.none() | st.integers(1, 3)),
        }
    if kind == "subscription.renewed":
        return {
            **_subscription(draw),
            "plan": draw(plans),
            "seats": draw(seats),
            "mrr": draw(money),
            "term_start": draw(days),
            "term_end": "2028-03-01",
        }
    if kind in ("subscription.expanded", "subscription.contracted"):
        return {
            **_subscription(draw),
            "previous_plan": "basic",
            "plan": draw(plans),
            "previous_seats": 1,
            "seats": draw(seats),
            "previous_mrr": draw(money),
            "mrr": draw(money),
        }
    if kind == "subscription.addon_added":
        return {**_subscription(draw), "addon": "a1", "addon_mrr": draw(money), "mrr": draw(money)}
    if kind == "subscription.cancelled":
        return {**_subscription(draw), "effective_date": draw(days)}
    if kind == "invoice.paid":
        return {
            "invoice_id": draw(invoices),
            "subscription_id": "s1",
            "customer_id": CUSTOMER,
            "amount": draw(money),
            "paid_at": draw(instants),
        }
    if kind == "invoice.payment_failed":
        return {
            "invoice_id": draw(invoices),
            "subscription_id": "s1",
            "customer_id": CUSTOMER,
            "amount": draw(money),
            "attempt": 1,
        }
    if kind == "usage.reported":
        start = draw(instants)
        return {
            "customer_id": CUSTOMER,
            "metric": draw(st.sampled_from(["active_users", "seats_used", "feature:f1"])),
            "value": draw(st.integers(0, 3)),
            "period_start": start,
            "period_end": start + timedelta(hours=1),
        }
    if kind == "milestone.completed":
        return {
            "customer_id": CUSTOMER,
            "partner_id": draw(partners),
            "milestone": draw(st.sampled_from(["kickoff", "configured"])),
            "completed_at": draw(instants),
        }
    if kind == "feedback.submitted":
        nps = draw(st.booleans())
        return {
            "customer_id": CUSTOMER,
            "kind": "nps" if nps else "csat",
            "score": draw(st.integers(0, 10) if nps else st.integers(1, 5)),
            "submitted_at": draw(instants),
        }
    assert kind == "customer.partner_changed"
    return {"customer_id": CUSTOMER, "partner_id": draw(partners), "effective_at": draw(instants)}


KINDS = sorted(kind for kind in EVENT_TYPES if not kind.startswith("partner."))
"""Every input type about a customer (partner-level events fold into no customer)."""


@st.composite
def events(draw: st.DrawFn) -> Envelope:
    kind = draw(st.sampled_from(KINDS))
    model = EVENT_TYPES[kind]
    return model.model_validate(  # type: ignore[no-any-return]
        {
            "id": f"e{draw(st.integers(0, 10**6))}",
            "source": "test/idempotence",
            "type": kind,
            "time": draw(instants),
            "data": draw(data_of(kind)),
        }
    )


@given(st.lists(events(), min_size=1, max_size=12))
def test_an_event_folded_again_at_any_later_point_changes_nothing(stream: list[Envelope]) -> None:
    state = CustomerState.new(CUSTOMER)
    for n, event in enumerate(stream, 1):
        state = fold_event(state, event)
        for seen in stream[:n]:
            assert fold_event(state, seen) == state, (seen.type, seen.data)


@given(st.lists(events(), min_size=1, max_size=12))
def test_the_whole_stream_folded_again_changes_nothing(stream: list[Envelope]) -> None:
    once = CustomerState.new(CUSTOMER)
    for event in stream:
        once = fold_event(once, event)
    twice = once
    for event in stream:
        twice = fold_event(twice, event)
    assert twice == once
