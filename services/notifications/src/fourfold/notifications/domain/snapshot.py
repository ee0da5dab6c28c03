"""What the service keeps of a customer, and the folds that merge an event into it.

The snapshot is what the rules read, so time-based rules can run when no event arrives.
Each fold is pure and tolerant of late and out-of-order events: a `health.changed` older
than the one kept is ignored; score and utilisation points are kept in time order and pruned
to a bounded window; an invoice once paid stays paid whatever order its events come in.

The score and utilisation history is kept as (epoch seconds, value) pairs, in the stored
document too: the scheduled pass rebuilds every snapshot from its document, and numbers
come out of the JSON decoder as they are, where ISO strings would have to be parsed into
datetimes first. Documents written with ISO strings are still read.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, cast

from fourfold.events import (
    CustomerPartnerChanged,
    Envelope,
    HealthChanged,
    InvoicePaid,
    InvoicePaymentFailed,
    MilestoneCompleted,
    SubscriptionAddonAdded,
    SubscriptionCancelled,
    SubscriptionContracted,
    SubscriptionCreated,
    SubscriptionExpanded,
    SubscriptionRenewed,
)

POINTS_KEPT = timedelta(days=120)
"""Score and utilisation history kept (longer than any window a rule may be configured to)."""
_POINTS_KEPT_S = POINTS_KEPT.total_seconds()
MAX_POINTS = 400
PAID_KEPT = timedelta(days=60)


@dataclass(frozen=True, slots=True)
class Invoice:
    failed_at: datetime | None = None
    paid_at: datetime | None = None

    @property
    def unpaid_failure(self) -> bool:
        return self.failed_at is not None and self.paid_at is None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The latest known state of one customer, as plain data."""

    customer_id: str
    partner_id: str | None = None
    subscription_start: date | None = None
    term_end: date | None = None
    cancelled: bool = False
    seats: int | None = None
    seats_in_use: int | None = None
    utilisation: float | None = None
    milestones: frozenset[str] = frozenset()
    band: str | None = None
    score: int | None = None
    scored_at: datetime | None = None
    last_expansion_at: datetime | None = None
    scores: tuple[tuple[float, int], ...] = ()
    """(scored_at as epoch seconds, score) points, time order, pruned to POINTS_KEPT."""
    utilisations: tuple[tuple[float, float], ...] = ()
    """(epoch seconds, utilisation) points where the value changed, time order."""
    invoices: dict[str, Invoice] = field(default_factory=dict)

    @property
    def activation(self) -> float:
        """Seats in use / seats bought; a customer with no seat data counts as 0."""
        if self.seats and self.seats_in_use is not None:
            return self.seats_in_use / self.seats
        return self.utilisation or 0.0

    @property
    def unpaid_invoices(self) -> tuple[str, ...]:
        return tuple(sorted(i for i, inv in self.invoices.items() if inv.unpaid_failure))


def epoch(at: datetime) -> float:
    """An aware datetime as the epoch seconds the history keeps (order-preserving: two
    instants a microsecond apart stay apart, equal ones are equal)."""
    return at.timestamp()


def _with_point(
    points: tuple[tuple[float, Any], ...], at: float, value: Any, *, changes_only: bool
) -> tuple[tuple[float, Any], ...]:
    """Insert (at, value) in time order; drop what is older than the window."""
    items = [p for p in points if p[0] != at]
    index = bisect.bisect_left([p[0] for p in items], at)
    if changes_only and index > 0 and items[index - 1][1] == value:
        return points
    items.insert(index, (at, value))
    newest = items[-1][0]
    # keep the last point before the window: it says what held at the window's start
    cut = 0
    while cut + 1 < len(items) and items[cut + 1][0] < newest - _POINTS_KEPT_S:
        cut += 1
    return tuple(items[cut:][-MAX_POINTS:])


def _fold_health(s: Snapshot, event: HealthChanged) -> Snapshot:
    d, sig = event.data, event.data.signals
    at = epoch(d.scored_at)
    scores = s.scores if d.score is None else _with_point(s.scores, at, d.score, changes_only=False)
    utilisations = (
        s.utilisations
        if sig.utilization is None
        else _with_point(s.utilisations, at, float(sig.utilization), changes_only=True)
    )
    if s.scored_at is not None and d.scored_at < s.scored_at:
        return replace(s, scores=scores, utilisations=utilisations)  # late: history only
    return replace(
        s,
        partner_id=d.partner_id or s.partner_id,
        subscription_start=sig.subscription_start or s.subscription_start,
        term_end=sig.term_end or s.term_end,
        cancelled=sig.subscription_status == "cancelled" or sig.cancel_effective is not None,
        seats=sig.seats,
        seats_in_use=sig.seats_in_use,
        utilisation=None if sig.utilization is None else float(sig.utilization),
        milestones=s.milestones | frozenset(sig.milestones),
        band=d.band.value,
        score=d.score,
        scored_at=d.scored_at,
        last_expansion_at=_latest(s.last_expansion_at, sig.last_expansion_at),
        scores=scores,
        utilisations=utilisations,
    )


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _invoice(s: Snapshot, invoice_id: str, **change: datetime) -> Snapshot:
    invoices = dict(s.invoices)
    invoices[invoice_id] = replace(invoices.get(invoice_id, Invoice()), **change)
    return replace(s, invoices=invoices)


def fold(s: Snapshot, event: Envelope) -> Snapshot:
    """Merge one event into the snapshot; events the rules do not need leave it unchanged."""
    match event:
        case HealthChanged():
            return _fold_health(s, event)
        case SubscriptionCreated(data=d):
            return replace(
                s,
                partner_id=s.partner_id or d.partner_id,
                subscription_start=s.subscription_start or d.start_date,
                term_end=s.term_end or d.term_end,
                seats=s.seats if s.seats is not None else d.seats,
            )
        case SubscriptionRenewed(data=d):
            return replace(s, term_end=max(d.term_end, s.term_end or d.term_end), seats=d.seats)
        case SubscriptionExpanded() | SubscriptionAddonAdded():
            return replace(s, last_expansion_at=_latest(s.last_expansion_at, event.time))
        case SubscriptionContracted(data=d):
            return replace(s, seats=d.seats)
        case SubscriptionCancelled():
            return replace(s, cancelled=True)
        case InvoicePaymentFailed(data=d):
            current = s.invoices.get(d.invoice_id)
            if current is not None and current.failed_at is not None:
                return s
            return _invoice(s, d.invoice_id, failed_at=event.time)
        case InvoicePaid(data=d):
            return _invoice(s, d.invoice_id, paid_at=d.paid_at)
        case MilestoneCompleted(data=d):
            return replace(
                s,
                partner_id=s.partner_id or d.partner_id,
                milestones=s.milestones | {d.milestone.value},
            )
        case CustomerPartnerChanged(data=d):
            return replace(s, partner_id=d.partner_id)
    return s


def fold_all(s: Snapshot, events: Iterable[Envelope]) -> Snapshot:
    """Fold events in event-time order (the partition order breaks ties)."""
    for event in sorted(events, key=lambda e: e.time):
        s = fold(s, event)
    return prune(s, max((e.time for e in events), default=None))


def prune(s: Snapshot, now: datetime | None) -> Snapshot:
    """Forget paid invoices long settled, so the snapshot stays bounded."""
    if now is None:
        return s
    kept = {
        i: inv
        for i, inv in s.invoices.items()
        if inv.paid_at is None or inv.paid_at >= now - PAID_KEPT
    }
    return s if len(kept) == len(s.invoices) else replace(s, invoices=kept)


def to_json(s: Snapshot) -> dict[str, Any]:
    """The snapshot as a JSON document (what the repository stores)."""
    return {
        "partner_id": s.partner_id,
        "subscription_start": None
        if s.subscription_start is None
        else s.subscription_start.isoformat(),
        "term_end": None if s.term_end is None else s.term_end.isoformat(),
        "cancelled": s.cancelled,
        "seats": s.seats,
        "seats_in_use": s.seats_in_use,
        "utilisation": s.utilisation,
        "milestones": sorted(s.milestones),
        "band": s.band,
        "score": s.score,
        "scored_at": _iso(s.scored_at),
        "last_expansion_at": _iso(s.last_expansion_at),
        "scores": [[at, v] for at, v in s.scores],
        "utilisations": [[at, v] for at, v in s.utilisations],
        "invoices": {
            i: [_iso(inv.failed_at), _iso(inv.paid_at)] for i, inv in sorted(s.invoices.items())
        },
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _history(points: list[list[Any]] | None, kind: type[Any]) -> tuple[tuple[float, Any], ...]:
    """A stored history as (epoch seconds, value) pairs: taken as decoded when written by
    this version, converted when written with ISO instants (before epoch seconds)."""
    if not points:
        return ()
    if isinstance(points[0][0], str):
        return tuple((epoch(datetime.fromisoformat(at)), kind(v)) for at, v in points)
    return cast("tuple[tuple[float, Any], ...]", tuple(map(tuple, points)))


def from_json(customer_id: str, doc: dict[str, Any]) -> Snapshot:
    """Rebuild a snapshot from `to_json`'s document (the scheduled pass does this for every
    customer, so it is written out flat: no helper calls, positional fields)."""
    get = doc.get
    start, end, scored, expanded = (
        get("subscription_start"),
        get("term_end"),
        get("scored_at"),
        get("last_expansion_at"),
    )
    invoices = get("invoices")
    return Snapshot(
        customer_id,
        get("partner_id"),
        None if start is None else _date(start),
        None if end is None else _date(end),
        bool(get("cancelled")),
        get("seats"),
        get("seats_in_use"),
        get("utilisation"),
        frozenset(get("milestones", ())),
        get("band"),
        get("score"),
        None if scored is None else _instant(scored),
        None if expanded is None else _instant(expanded),
        _history(get("scores"), int),
        _history(get("utilisations"), float),
        {i: Invoice(_dt(f), _dt(p)) for i, (f, p) in invoices.items()} if invoices else {},
    )


_date, _instant = date.fromisoformat, datetime.fromisoformat
