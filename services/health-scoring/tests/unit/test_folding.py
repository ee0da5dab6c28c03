"""Event contracts folded into a customer's state: one table row per event type."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fourfold.events import Envelope, Money, PartnerCertified, parse_event
from fourfold.health.domain.lifecycle import lifecycle_step
from fourfold.health.domain.schedule import next_time_change
from fourfold.health.domain.scorecard import LifecycleStep, default_scorecard
from fourfold.health.domain.signals import (
    ExpansionKind,
    Milestone,
    SentimentKind,
    SubscriptionStatus,
)
from fourfold.health.folding import (
    customer_of,
    fold_event,
    fold_events,
    nps_from_domain,
    nps_to_domain,
)
from fourfold.health.state import (
    PAID_INVOICES_KEPT,
    CustomerState,
    state_from_json,
    state_to_json,
)

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
EUR = {"amount": "100.00", "currency": "EUR"}
REF = {"subscription_id": "s1", "customer_id": "c1", "partner_id": "p1"}


def event(type_: str, data: dict[str, Any], at: datetime = T0, id_: str = "e1") -> Envelope:
    return parse_event(
        {"id": id_, "source": "test", "type": type_, "time": at.isoformat(), "data": data}
    )


def created(at: datetime = T0, **extra: Any) -> Envelope:
    data = {
        **REF,
        "plan": "pro",
        "seats": 10,
        "mrr": EUR,
        "start_date": "2026-03-01",
        "term_end": "2027-03-01",
        "features_available": 12,
        **extra,
    }
    return event("subscription.created", data, at)


def fold(*events: Envelope) -> CustomerState:
    return fold_events(CustomerState.new("c1"), events)


def test_subscription_created_sets_partner_plan_seats_money_and_dates() -> None:
    s = fold(created()).signals
    assert (s.partner_id, s.plan, s.seats_bought, s.status) == (
        "p1",
        "pro",
        10,
        SubscriptionStatus.ACTIVE,
    )
    assert s.mrr is not None
    assert s.mrr.amount == Decimal("100.00")
    assert s.arr is not None
    assert s.arr.amount == Decimal("1200.00")
    assert s.subscription_start == datetime(2026, 3, 1, tzinfo=UTC)
    assert s.term_end == datetime(2027, 3, 1, tzinfo=UTC)
    assert s.features_available == 12


@pytest.mark.parametrize(
    ("type_", "data", "kind"),
    [
        (
            "subscription.renewed",
            {
                **REF,
                "plan": "pro",
                "seats": 12,
                "mrr": EUR,
                "term_start": "2027-03-01",
                "term_end": "2028-03-01",
            },
            ExpansionKind.RENEWAL,
        ),
        (
            "subscription.expanded",
            {
                **REF,
                "previous_plan": "pro",
                "plan": "max",
                "previous_seats": 10,
                "seats": 12,
                "previous_mrr": EUR,
                "mrr": {"amount": "150", "currency": "EUR"},
            },
            ExpansionKind.EXPANSION,
        ),
        (
            "subscription.addon_added",
            {**REF, "addon": "sso", "addon_mrr": EUR, "mrr": {"amount": "200", "currency": "EUR"}},
            ExpansionKind.ADDON,
        ),
    ],
)
def test_increase_events_record_an_expansion(
    type_: str, data: dict[str, Any], kind: ExpansionKind
) -> None:
    later = T0 + timedelta(days=30)
    state = fold(created(), event(type_, data, later, "e2"))
    assert [(e.kind, e.at) for e in state.signals.expansions] == [(kind, later)]
    assert state.signals.subscription_at == later


def test_contraction_and_cancellation_update_the_subscription() -> None:
    contracted = event(
        "subscription.contracted",
        {
            **REF,
            "previous_plan": "pro",
            "plan": "lite",
            "previous_seats": 10,
            "seats": 4,
            "previous_mrr": EUR,
            "mrr": {"amount": "40", "currency": "EUR"},
        },
        T0 + timedelta(days=1),
        "e2",
    )
    cancelled = event(
        "subscription.cancelled",
        {**REF, "effective_date": "2026-04-01"},
        T0 + timedelta(days=2),
        "e3",
    )
    s = fold(created(), contracted, cancelled).signals
    assert (s.plan, s.seats_bought, s.status) == ("lite", 4, SubscriptionStatus.CANCELLED)
    assert s.expansions == ()


def test_an_older_subscription_event_arriving_late_does_not_roll_back() -> None:
    newer = created(T0 + timedelta(days=5), seats=20)
    older = created(T0, seats=5)
    state = fold_event(fold_event(CustomerState.new("c1"), newer), older)
    assert state.signals.seats_bought == 20


def arrive(*events: Envelope) -> CustomerState:
    """Fold one event at a time in ARRIVAL order (as the list gives them), not by event time."""
    state = CustomerState.new("c1")
    for each in events:
        state = fold_event(state, each)
    return state


def test_a_late_subscription_created_still_fills_what_is_unknown() -> None:
    expanded = event(
        "subscription.expanded",
        {
            **REF,
            "previous_plan": "pro",
            "plan": "pro",
            "previous_seats": 10,
            "seats": 15,
            "previous_mrr": EUR,
            "mrr": {"amount": "150", "currency": "EUR"},
        },
        T0 + timedelta(days=5),
        "e2",
    )
    s = arrive(expanded, created(T0)).signals
    assert s.subscription_start == datetime(2026, 3, 1, tzinfo=UTC)
    assert s.term_end == datetime(2027, 3, 1, tzinfo=UTC)
    assert s.status is SubscriptionStatus.ACTIVE
    assert (s.plan, s.seats_bought) == ("pro", 15), "the newer expansion's values stay"
    assert s.mrr is not None
    assert s.mrr.amount == Decimal("150")
    assert s.subscription_at == T0 + timedelta(days=5)
    rules = default_scorecard().lifecycle
    assert lifecycle_step(s, rules, T0 + timedelta(days=6)).step is not LifecycleStep.INVOLVE


def partner_changed(partner: str, at: datetime, id_: str) -> Envelope:
    data = {"customer_id": "c1", "partner_id": partner, "effective_at": at.isoformat()}
    return event("customer.partner_changed", data, at, id_)


def test_a_former_partners_later_event_does_not_take_the_customer_back() -> None:
    milestone = event(
        "milestone.completed",
        {
            "customer_id": "c1",
            "partner_id": "p1",
            "milestone": "kickoff",
            "completed_at": (T0 + timedelta(days=2)).isoformat(),
        },
        T0 + timedelta(days=2),
        "m1",
    )
    renewed_by_p1 = event(
        "subscription.renewed",
        {
            **REF,
            "plan": "pro",
            "seats": 10,
            "mrr": EUR,
            "term_start": "2027-03-01",
            "term_end": "2028-03-01",
        },
        T0 + timedelta(days=3),
        "r1",
    )
    state = arrive(created(T0), partner_changed("p2", T0 + timedelta(days=1), "x1"), milestone)
    assert state.partner_id == "p2", "a p1 milestone after the move does not hand it back"
    assert Milestone.KICKOFF in state.signals.milestones
    assert (
        arrive(
            created(T0), partner_changed("p2", T0 + timedelta(days=1), "x1"), renewed_by_p1
        ).partner_id
        == "p2"
    )
    # the first subscription event names the owner while none is known ...
    assert arrive(milestone, created(T0)).partner_id == "p1"
    # ... and reassignments among themselves go by their effective time
    late_older_move = arrive(
        created(T0),
        partner_changed("p3", T0 + timedelta(days=4), "x2"),
        partner_changed("p2", T0 + timedelta(days=1), "x1"),
    )
    assert late_older_move.partner_id == "p3"


def invoice_failed(invoice: str, at: datetime, id_: str) -> Envelope:
    data = {
        "invoice_id": invoice,
        "subscription_id": "s1",
        "customer_id": "c1",
        "amount": EUR,
        "attempt": 1,
    }
    return event("invoice.payment_failed", data, at, id_)


def invoice_paid(invoice: str, at: datetime, id_: str) -> Envelope:
    data = {
        "invoice_id": invoice,
        "subscription_id": "s1",
        "customer_id": "c1",
        "amount": EUR,
        "paid_at": at.isoformat(),
    }
    return event("invoice.paid", data, at, id_)


def test_a_late_failure_of_a_paid_invoice_does_not_make_it_past_due() -> None:
    paid_at = T0 + timedelta(days=1)
    state = arrive(invoice_paid("i1", paid_at, "p1"), invoice_failed("i1", T0, "f1"))
    assert state.signals.payment is not None
    assert (state.signals.payment.failed_invoices, state.signals.payment.past_due) == (0, False)
    assert state.failed_invoices == {}
    assert state.paid_invoices == {"i1": paid_at}
    # a failure after the payment (a later charge of the same invoice) still counts
    again = fold_event(state, invoice_failed("i1", paid_at + timedelta(days=1), "f2"))
    assert again.signals.payment is not None
    assert again.signals.payment.past_due is True


def test_paid_invoices_remembered_are_bounded_to_the_most_recent() -> None:
    state = arrive(
        *(
            invoice_paid(f"i{n}", T0 + timedelta(days=n), f"p{n}")
            for n in range(PAID_INVOICES_KEPT + 5)
        )
    )
    assert len(state.paid_invoices) == PAID_INVOICES_KEPT
    assert "i0" not in state.paid_invoices
    assert f"i{PAID_INVOICES_KEPT + 4}" in state.paid_invoices


def usage(metric: str, value: float, start: datetime, id_: str = "u") -> Envelope:
    data = {
        "customer_id": "c1",
        "metric": metric,
        "value": value,
        "period_start": start.isoformat(),
        "period_end": (start + timedelta(hours=23)).isoformat(),
    }
    return event("usage.reported", data, start + timedelta(days=3), id_)


def test_usage_lands_by_period_not_by_arrival() -> None:
    day = datetime(2026, 2, 10, 0, 30, tzinfo=UTC)
    state = fold(
        usage("active_users", 7.4, day, "u1"),
        usage("seats_used", 6, day, "u2"),
        usage("seats_used", 9, day - timedelta(days=5), "u3"),
        usage("feature:reports", 2, day, "u4"),
        usage("feature:export", 0, day, "u5"),
    )
    s = state.signals
    assert s.active_users == ((date(2026, 2, 10), 7),)
    assert (s.seats_in_use, s.seats_in_use_at) == (6, day + timedelta(hours=23))
    assert s.features_used == frozenset({"reports"})


def test_failed_invoices_count_once_and_clear_when_paid() -> None:
    def failed(invoice: str, attempt: int, at: datetime, id_: str) -> Envelope:
        data = {
            "invoice_id": invoice,
            "subscription_id": "s1",
            "customer_id": "c1",
            "amount": EUR,
            "attempt": attempt,
        }
        return event("invoice.payment_failed", data, at, id_)

    def paid(invoice: str, at: datetime, id_: str) -> Envelope:
        data = {
            "invoice_id": invoice,
            "subscription_id": "s1",
            "customer_id": "c1",
            "amount": EUR,
            "paid_at": at.isoformat(),
        }
        return event("invoice.paid", data, at, id_)

    state = fold(
        failed("i1", 1, T0, "f1"),
        failed("i1", 2, T0 + timedelta(days=1), "f2"),
        failed("i2", 1, T0 + timedelta(days=2), "f3"),
    )
    assert state.signals.payment is not None
    assert (state.signals.payment.failed_invoices, state.signals.payment.past_due) == (2, True)
    state = fold_events(state, [paid("i1", T0 + timedelta(days=3), "p1")])
    assert state.signals.payment is not None
    assert (state.signals.payment.failed_invoices, state.signals.payment.past_due) == (1, True)
    state = fold_events(state, [paid("i2", T0 + timedelta(days=4), "p2")])
    assert state.signals.payment is not None
    assert (state.signals.payment.failed_invoices, state.signals.payment.past_due) == (0, False)
    assert state.failed_invoices == {}


def test_milestones_feedback_and_partner_changes() -> None:
    done = T0 - timedelta(days=2)
    milestone = event(
        "milestone.completed",
        {
            "customer_id": "c1",
            "partner_id": "p1",
            "milestone": "kickoff",
            "completed_at": done.isoformat(),
        },
        T0,
        "m1",
    )
    nps = event(
        "feedback.submitted",
        {"customer_id": "c1", "kind": "nps", "score": 8, "submitted_at": T0.isoformat()},
        T0,
        "n1",
    )
    moved = event(
        "customer.partner_changed",
        {
            "customer_id": "c1",
            "partner_id": "p2",
            "effective_at": (T0 + timedelta(days=1)).isoformat(),
        },
        T0 + timedelta(days=1),
        "x1",
    )
    # one event at a time as they arrive: the reassignment first, the older subscription last
    state = arrive(milestone, nps, moved, created(T0 - timedelta(days=10)))
    s = state.signals
    assert s.milestones == {Milestone.KICKOFF: done}
    assert s.sentiment is not None
    assert (s.sentiment.kind, s.sentiment.value) == (SentimentKind.NPS, 60)
    assert s.partner_id == "p2", "an older subscription event does not undo the reassignment"
    assert state.partner_id == "p2"


def test_partner_level_events_have_no_customer_and_change_nothing() -> None:
    certified = event(
        "partner.certified",
        {"partner_id": "p1", "certification": "gold", "certified_at": T0.isoformat()},
    )
    assert isinstance(certified, PartnerCertified)
    assert customer_of(certified) is None
    assert fold_event(CustomerState.new("c1"), certified) == CustomerState.new("c1")
    assert CustomerState.new("c1").partner_id is None


@pytest.mark.parametrize("answer", range(11))
def test_nps_answers_round_trip_through_the_domain_scale(answer: int) -> None:
    assert -100 <= nps_to_domain(answer) <= 100
    assert nps_from_domain(nps_to_domain(answer)) == answer


def test_money_helper_keeps_decimal() -> None:
    from fourfold.health.folding import money

    assert money(Money(amount=Decimal("1.10"), currency="EUR")).amount == Decimal("1.10")


def test_a_cancelled_customer_leaves_increase_once_the_cancellation_is_effective() -> None:
    expanded = event(
        "subscription.expanded",
        {
            **REF,
            "previous_plan": "pro",
            "plan": "pro",
            "previous_seats": 10,
            "seats": 15,
            "previous_mrr": EUR,
            "mrr": {"amount": "150", "currency": "EUR"},
        },
        T0 + timedelta(days=40),
        "e2",
    )
    cancelled = event(
        "subscription.cancelled",
        {**REF, "effective_date": "2026-05-01"},
        T0 + timedelta(days=45),
        "e3",
    )
    seats = usage("seats_used", 15, T0 + timedelta(days=44), "u1")
    onboarded = [
        event(
            "milestone.completed",
            {
                "customer_id": "c1",
                "partner_id": "p1",
                "milestone": m,
                "completed_at": (T0 + timedelta(days=10)).isoformat(),
            },
            T0 + timedelta(days=10),
            f"m-{m}",
        )
        for m in ("kickoff", "configured", "first_value")
    ]
    state = arrive(created(T0), *onboarded, expanded, seats, cancelled)
    s = state.signals
    assert s.status is SubscriptionStatus.CANCELLED
    assert s.cancel_effective == datetime(2026, 5, 1, tzinfo=UTC)
    assert state_from_json(json.loads(json.dumps(state_to_json(state)))) == state
    rules = default_scorecard().lifecycle
    notice = lifecycle_step(s, rules, datetime(2026, 4, 30, 12, tzinfo=UTC))
    assert notice.step is LifecycleStep.INCREASE, "still a customer until it takes effect"
    gone = lifecycle_step(s, rules, datetime(2026, 5, 1, tzinfo=UTC))
    assert gone.step is not LifecycleStep.INCREASE
    assert gone.reasons[0] == "cancelled effective 2026-05-01"
    assert any(r.startswith("suppressed: ") for r in gone.reasons)
    assert next_time_change(s, default_scorecard(), datetime(2026, 4, 30, tzinfo=UTC)) == (
        datetime(2026, 5, 1, tzinfo=UTC)
    ), "the scheduler rescores when the cancellation takes effect"


def test_a_payment_arriving_after_a_later_failure_of_its_invoice_leaves_it_unpaid() -> None:
    paid_at = T0 + timedelta(days=1)
    later_charge = invoice_failed("i1", paid_at + timedelta(days=1), "f2")
    state = arrive(later_charge, invoice_paid("i1", paid_at, "p1"))
    assert state.signals.payment is not None
    assert state.signals.payment.past_due is True
    assert state.failed_invoices == {"i1": paid_at + timedelta(days=1)}
    assert fold_event(state, invoice_paid("i1", paid_at, "p1")) == state
