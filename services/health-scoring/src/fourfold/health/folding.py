"""Event contracts → the domain's folds: one input event merged into a customer's state.

Pure (no I/O), so it is unit-tested event by event. Every fold is placed by event time, not
arrival: subscription facts and gauges keep the newest by event time, usage lands on its own
period, milestones keep their earliest date. Every fold is idempotent too (`fold_event`):
the consumer runs in offsets mode, where an event id that reaches the broker twice is
handed to it twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from operator import attrgetter
from types import MappingProxyType

from fourfold.events import (
    CustomerPartnerChanged,
    Envelope,
    FeedbackSubmitted,
    InvoicePaid,
    InvoicePaymentFailed,
    MilestoneCompleted,
    SubscriptionAddonAdded,
    SubscriptionCancelled,
    SubscriptionContracted,
    SubscriptionCreated,
    SubscriptionExpanded,
    SubscriptionRenewed,
    UsageReported,
)
from fourfold.events import Money as EventMoney
from fourfold.health.domain.signals import (
    CustomerSignals,
    ExpansionKind,
    Milestone,
    Money,
    SentimentKind,
    SubscriptionStatus,
    UsageMetric,
    evolve,
    with_expansion,
    with_features,
    with_milestone,
    with_payment,
    with_sentiment,
    with_subscription,
    with_usage,
)
from fourfold.health.state import NO_PARTNER, PAID_INVOICES_KEPT, CustomerState

FEATURE_PREFIX = "feature:"


def customer_of(event: Envelope) -> str | None:
    """The customer an event is about; None for partner-level events (certifications)."""
    customer_id = getattr(event.data, "customer_id", None)
    return None if customer_id is None else str(customer_id)


def midnight(day: date) -> datetime:
    """A billing date as the UTC instant it begins."""
    return datetime.combine(day, time(), tzinfo=UTC)


def money(value: EventMoney) -> Money:
    return Money(value.amount, value.currency)


def nps_to_domain(answer: int) -> int:
    """One NPS answer 0..10 onto the domain's -100..100 scale, linearly (5 → 0, 10 → 100):
    a single respondent's answer keeps its nuance instead of collapsing to ±100/0."""
    return answer * 20 - 100


def nps_from_domain(value: int) -> int:
    """The 0..10 answer back from the domain's scale."""
    return (value + 100) // 20


def with_partner(state: CustomerState, partner_id: str, at: datetime) -> CustomerState:
    """An explicit reassignment (`customer.partner_changed`), placed by its effective time: a
    late, older reassignment does not win over a newer one."""
    if state.partner_at is not None and at < state.partner_at:
        return state
    return evolve(state, signals=evolve(state.signals, partner_id=partner_id), partner_at=at)


def with_first_partner(signals: CustomerSignals, partner_id: str) -> CustomerSignals:
    """The partner a subscription event names, taken only while no owner is known: once a
    customer has a partner of record only `customer.partner_changed` moves it, so a late or
    stale event of the former partner cannot hand the customer back."""
    if signals.partner_id != NO_PARTNER:
        return signals
    return evolve(signals, partner_id=partner_id)


def with_invoice(
    state: CustomerState, invoice_id: str, *, failed: bool, at: datetime
) -> CustomerState:
    """Track unpaid failed invoices; the payment state counts them, past due while any.

    A payment is remembered (for the most recently paid invoices) so a failure of the same
    invoice at or before its payment, arriving late, does not make it unpaid again; and a
    payment not newer than the one remembered (the same one again) changes nothing, so a
    second copy cannot clear a failure that came after it."""
    paid, unpaid = state.paid_invoices, state.failed_invoices
    if failed:
        paid_at = paid.get(invoice_id)
        if paid_at is not None and at <= paid_at:
            return state
        failed_at = unpaid.get(invoice_id)
        if failed_at is not None and at <= failed_at:
            return state
        unpaid = MappingProxyType({**unpaid, invoice_id: at})
    else:
        known = paid.get(invoice_id)
        if known is not None and at <= known:
            return state
        remembered = {**paid, invoice_id: at}
        newest = sorted(remembered.items(), key=lambda item: (item[1], item[0]), reverse=True)
        paid = MappingProxyType(dict(newest[:PAID_INVOICES_KEPT]))
        failed_at = unpaid.get(invoice_id)
        if failed_at is not None and failed_at <= at:
            unpaid = MappingProxyType({i: t for i, t in unpaid.items() if i != invoice_id})
    current = state.signals.payment
    # The invoice set is the truth, so the derived state always applies (never "older").
    stamp = at if current is None else max(at, current.at)
    signals = with_payment(
        state.signals, failed_invoices=len(unpaid), past_due=bool(unpaid), at=stamp
    )
    return evolve(state, signals=signals, failed_invoices=unpaid, paid_invoices=paid)


_GAUGE_OF_TYPE = {
    "subscription.created": "subscription",
    "subscription.renewed": "subscription",
    "subscription.expanded": "subscription",
    "subscription.addon_added": "subscription",
    "subscription.contracted": "subscription",
    "subscription.cancelled": "subscription",
    "feedback.submitted": "sentiment",
    "customer.partner_changed": "partner",
}
"""The facts where the newest by time wins and, at the same instant, the last to arrive: the
only folds a second copy of an event could change (by winning a tie again)."""
_GAUGE_TIME = {"seats": "period_end", "sentiment": "submitted_at", "partner": "effective_at"}
"""Which field of the event's data places it in its gauge (the envelope's time otherwise)."""


def _gauge_of(event: Envelope) -> str | None:
    if event.type == "usage.reported":
        return "seats" if getattr(event.data, "metric", None) == "seats_used" else None
    return _GAUGE_OF_TYPE.get(event.type)


def _gauge_at(state: CustomerState, gauge: str) -> datetime | None:
    """The instant of the gauge's newest fact in `state`."""
    s = state.signals
    if gauge == "subscription":
        return s.subscription_at
    if gauge == "seats":
        return s.seats_in_use_at
    if gauge == "sentiment":
        return None if s.sentiment is None else s.sentiment.at
    return state.partner_at


def _not_older(newest: datetime | None, at: datetime) -> bool:
    return newest is None or at >= newest


def fold_event(state: CustomerState, event: Envelope) -> CustomerState:
    """Merge one input event into a customer's state (unknown types leave it unchanged).

    Idempotent: folding an event again changes nothing. Most folds are so by themselves (a
    set, a day's highest count, the earliest date, an older fact only filling what is
    unknown); where the newest fact wins and a tie goes to the last to arrive, the state
    keeps the ids of the events at the gauge's newest instant, and a second copy of one of
    them is skipped instead of winning the tie again."""
    gauge = _gauge_of(event)
    if gauge is None:
        return _fold(state, event)
    field = _GAUGE_TIME.get(gauge)
    at: datetime = event.time if field is None else getattr(event.data, field)
    newest = _gauge_at(state, gauge)
    ids = state.newest_ids.get(gauge, frozenset())
    if at == newest and event.id in ids:
        return state
    folded = _fold(state, event)
    if not _not_older(newest, at):
        return folded
    kept = ids | {event.id} if at == newest else frozenset({event.id})
    return evolve(folded, newest_ids=MappingProxyType({**state.newest_ids, gauge: kept}))


def _fold(state: CustomerState, event: Envelope) -> CustomerState:
    at, s = event.time, state.signals
    # Usage first: it is most of the stream, and each case tried before the matching one
    # costs an isinstance check through pydantic's ABC metaclass.
    match event:
        case UsageReported(data=d):
            s = _fold_usage(s, d.metric, d.value, d.period_start, d.period_end)
        case SubscriptionCreated(data=d):
            # The plan's feature count follows the subscription's newest fact, like its fields.
            takes_features = _not_older(s.subscription_at, at) or s.features_available is None
            s = with_subscription(
                with_first_partner(s, d.partner_id),
                at=at,
                status=SubscriptionStatus.ACTIVE,
                plan=d.plan,
                seats_bought=d.seats,
                mrr=money(d.mrr),
                start=midnight(d.start_date),
                term_end=midnight(d.term_end),
            )
            if takes_features:
                s = with_features(s, available=d.features_available)
        case SubscriptionRenewed(data=d):
            s = with_subscription(
                with_first_partner(s, d.partner_id),
                at=at,
                status=SubscriptionStatus.ACTIVE,
                plan=d.plan,
                seats_bought=d.seats,
                mrr=money(d.mrr),
                term_end=midnight(d.term_end),
            )
            s = with_expansion(s, ExpansionKind.RENEWAL, at)
        case SubscriptionExpanded(data=d):
            s = with_subscription(
                with_first_partner(s, d.partner_id),
                at=at,
                plan=d.plan,
                seats_bought=d.seats,
                mrr=money(d.mrr),
            )
            s = with_expansion(s, ExpansionKind.EXPANSION, at)
        case SubscriptionAddonAdded(data=d):
            s = with_subscription(with_first_partner(s, d.partner_id), at=at, mrr=money(d.mrr))
            s = with_expansion(s, ExpansionKind.ADDON, at)
        case SubscriptionContracted(data=d):
            s = with_subscription(
                with_first_partner(s, d.partner_id),
                at=at,
                plan=d.plan,
                seats_bought=d.seats,
                mrr=money(d.mrr),
            )
        case SubscriptionCancelled(data=d):
            s = with_subscription(
                with_first_partner(s, d.partner_id),
                at=at,
                status=SubscriptionStatus.CANCELLED,
                cancel_effective=midnight(d.effective_date),
            )
        case InvoicePaymentFailed(data=d):
            return with_invoice(state, d.invoice_id, failed=True, at=at)
        case InvoicePaid(data=d):
            return with_invoice(state, d.invoice_id, failed=False, at=d.paid_at)
        case MilestoneCompleted(data=d):
            s = with_milestone(s, Milestone(d.milestone.value), d.completed_at)
        case FeedbackSubmitted(data=d):
            kind = SentimentKind(d.kind)
            value = nps_to_domain(d.score) if kind is SentimentKind.NPS else d.score
            s = with_sentiment(s, kind, value, d.submitted_at)
        case CustomerPartnerChanged(data=d):
            return with_partner(state, d.partner_id, d.effective_at)
        case _:
            return state
    return state if s is state.signals else evolve(state, signals=s)


def _fold_usage(
    s: CustomerSignals, metric: str, value: float, start: datetime, end: datetime
) -> CustomerSignals:
    """Active users land on the day their period starts; seats in use are a reading taken at
    the period's end; a feature used at all in the period counts as used."""
    count = round(value)
    if metric == "active_users":
        return with_usage(s, UsageMetric.ACTIVE_USERS, count, start)
    if metric == "seats_used":
        return with_usage(s, UsageMetric.SEATS_IN_USE, count, end)
    if metric.startswith(FEATURE_PREFIX) and value > 0:
        return with_features(s, used=frozenset({metric.removeprefix(FEATURE_PREFIX)}))
    return s


_event_time = attrgetter("time")


def fold_events(state: CustomerState, events: Iterable[Envelope]) -> CustomerState:
    """Fold a customer's events in event-time order (ties keep arrival order)."""
    for event in sorted(events, key=_event_time):
        state = fold_event(state, event)
    return state
