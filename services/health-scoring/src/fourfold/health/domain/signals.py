"""What we know about one customer, and pure folds that merge one observation into it.

Every fold is order-independent where the event stream can be out of order: gauges keep the
newest observation by event time, daily series place a value at its own date, milestones keep
their earliest date. So a late or replayed event lands where it belongs and a handler only
loads, folds and saves.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from operator import itemgetter
from types import MappingProxyType
from typing import Any, TypeVar

# The contracts' vocabulary: a milestone means the same in an event and in the signals.
from fourfold.events.activity import Milestone as Milestone

USAGE_RETENTION_DAYS = 120
"""Daily active-user points older than this (before the newest point) are dropped: the
engagement windows need 60 days, the rest only bloats the stored snapshot."""

_RETENTION = timedelta(days=USAGE_RETENTION_DAYS)
_ONE_DAY = timedelta(days=1)
_day_of = itemgetter(0)

_Record = TypeVar("_Record")


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class SentimentKind(StrEnum):
    NPS = "nps"
    CSAT = "csat"


class ExpansionKind(StrEnum):
    EXPANSION = "expansion"
    ADDON = "addon"
    RENEWAL = "renewal"


class UsageMetric(StrEnum):
    ACTIVE_USERS = "active_users"
    SEATS_IN_USE = "seats_in_use"


def require_aware(at: datetime, what: str = "time") -> datetime:
    """Reject naive datetimes: comparing them with aware ones would crash later, far away."""
    if at.utcoffset() is None:  # also None when there is no tzinfo at all
        raise _naive(at, what)
    return at


def utc_day(at: datetime) -> date:
    """The UTC calendar day of an instant: usage is bucketed per UTC day on every host."""
    offset = at.utcoffset()
    if offset is None:
        raise _naive(at, "time")
    # Shifting by the offset gives the UTC wall time without building a converted datetime.
    return (at - offset).date() if offset else at.date()


def _naive(at: datetime, what: str) -> ValueError:
    return ValueError(f"{what} must be timezone-aware, got {at!r}")


def evolve(record: _Record, /, **changes: Any) -> _Record:
    """`dataclasses.replace` for the frozen records the folds produce (signals, the stored
    state), without rerunning `__init__` and `__post_init__`.

    A fold runs once per event and changes one or two fields of a record of twenty whose
    other values are already valid; `dataclasses.replace` re-runs the whole constructor (a
    frozen `setattr` per field) and was the largest cost of folding. Callers pass values that
    are already checked (or built by their own constructor) and keep what `__post_init__`
    would establish: mappings are read-only `MappingProxyType`s. A name that is not a field
    raises, as with `dataclasses.replace` (told by the merged dict growing: a third cheaper
    than comparing the key sets, and it runs ~5 times per event).
    """
    fields = record.__dict__
    merged = fields | changes
    if len(merged) != len(fields):
        unknown = ", ".join(sorted(changes.keys() - fields.keys()))
        raise TypeError(f"{type(record).__name__} has no field {unknown}")
    new = object.__new__(type(record))
    object.__setattr__(new, "__dict__", merged)
    return new


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal, never a float")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"currency must be an ISO 4217 code like 'EUR', got {self.currency!r}")


@dataclass(frozen=True)
class Sentiment:
    kind: SentimentKind
    value: int
    at: datetime

    def __post_init__(self) -> None:
        low, high = (-100, 100) if self.kind is SentimentKind.NPS else (1, 5)
        if not low <= self.value <= high:
            raise ValueError(f"{self.kind} must be within {low}..{high}, got {self.value}")
        require_aware(self.at, "sentiment time")

    def normalised(self) -> Decimal:
        """Map NPS -100..100 and CSAT 1..5 onto one 0..1 scale so either survey can feed it."""
        if self.kind is SentimentKind.NPS:
            return Decimal(self.value + 100) / Decimal(200)
        return Decimal(self.value - 1) / Decimal(4)


@dataclass(frozen=True)
class PaymentState:
    failed_invoices: int
    past_due: bool
    at: datetime


@dataclass(frozen=True)
class Expansion:
    kind: ExpansionKind
    at: datetime


@dataclass(frozen=True)
class CustomerSignals:
    """Everything health scoring knows about one customer; `None` means never observed."""

    customer_id: str
    partner_id: str
    plan: str | None = None
    status: SubscriptionStatus | None = None
    seats_bought: int | None = None
    mrr: Money | None = None
    subscription_start: datetime | None = None
    term_end: datetime | None = None
    subscription_at: datetime | None = None
    cancel_effective: datetime | None = None
    """When a cancellation takes effect (status cancelled); None: at once."""
    seats_in_use: int | None = None
    seats_in_use_at: datetime | None = None
    active_users: tuple[tuple[date, int], ...] = ()
    features_used: frozenset[str] = frozenset()
    features_available: int | None = None
    milestones: Mapping[Milestone, datetime] = field(default_factory=dict)
    payment: PaymentState | None = None
    sentiment: Sentiment | None = None
    expansions: tuple[Expansion, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "milestones", MappingProxyType(dict(self.milestones)))

    @property
    def arr(self) -> Money | None:
        """Annual run rate, derived so MRR and ARR can never disagree."""
        return None if self.mrr is None else Money(self.mrr.amount * 12, self.mrr.currency)


def with_subscription(
    signals: CustomerSignals,
    *,
    at: datetime,
    status: SubscriptionStatus | None = None,
    plan: str | None = None,
    seats_bought: int | None = None,
    mrr: Money | None = None,
    start: datetime | None = None,
    term_end: datetime | None = None,
    cancel_effective: datetime | None = None,
) -> CustomerSignals:
    """Apply a subscription change (arguments left None keep their value). A change older than
    one already applied cannot roll the state back: it only fills the fields still unknown,
    so a late `subscription.created` still gives the start and term end."""
    require_aware(at)
    if seats_bought is not None and seats_bought < 0:
        raise ValueError("seats_bought must not be negative")
    if signals.subscription_at is not None and at < signals.subscription_at:
        return evolve(
            signals,
            status=signals.status if signals.status is not None else status,
            plan=signals.plan if signals.plan is not None else plan,
            seats_bought=signals.seats_bought if signals.seats_bought is not None else seats_bought,
            mrr=signals.mrr if signals.mrr is not None else mrr,
            subscription_start=signals.subscription_start
            if signals.subscription_start is not None
            else start,
            term_end=signals.term_end if signals.term_end is not None else term_end,
            cancel_effective=signals.cancel_effective
            if signals.cancel_effective is not None
            else cancel_effective,
        )
    return evolve(
        signals,
        subscription_at=at,
        status=status if status is not None else signals.status,
        plan=plan if plan is not None else signals.plan,
        seats_bought=seats_bought if seats_bought is not None else signals.seats_bought,
        mrr=mrr if mrr is not None else signals.mrr,
        subscription_start=start if start is not None else signals.subscription_start,
        term_end=term_end if term_end is not None else signals.term_end,
        cancel_effective=cancel_effective
        if cancel_effective is not None
        else signals.cancel_effective,
    )


def cancelled_as_of(signals: CustomerSignals, as_of: datetime) -> datetime | None:
    """When the customer's cancellation took effect, if it has by `as_of` (else None)."""
    if signals.status not in (SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED):
        return None
    effective = signals.cancel_effective
    if effective is None:
        return signals.subscription_at or as_of
    return effective if effective <= as_of else None


def with_usage(
    signals: CustomerSignals, metric: UsageMetric, value: int, at: datetime
) -> CustomerSignals:
    """Fold a usage observation: active users land on their UTC day (the highest count of a
    day wins, so re-reports and replays commute), seats in use keep the newest reading."""
    if value < 0:
        raise ValueError(f"{metric} must not be negative, got {value}")
    if metric is UsageMetric.SEATS_IN_USE:
        require_aware(at)
        if signals.seats_in_use_at is not None and at < signals.seats_in_use_at:
            return signals
        return evolve(signals, seats_in_use=value, seats_in_use_at=at)
    series = _with_daily_point(signals.active_users, utc_day(at), value)
    return signals if series is signals.active_users else evolve(signals, active_users=series)


def _with_daily_point(
    series: tuple[tuple[date, int], ...], day: date, value: int
) -> tuple[tuple[date, int], ...]:
    """Place a day's count in a series sorted by day (as every fold and stored state keeps it)
    and drop the days beyond retention; the same tuple back when nothing changes.

    Appending or bisecting instead of rebuilding and sorting the whole series: a fold usually
    adds the newest day or repeats a known one, and re-sorting up to 120 points per event was
    most of its cost."""
    if not series or series[-1][0] < day:
        placed = (*series, (day, value))
    else:
        i = bisect_left(series, day, key=_day_of)
        if series[i][0] != day:
            placed = (*series[:i], (day, value), *series[i:])
        elif series[i][1] < value:
            placed = (*series[:i], (day, value), *series[i + 1 :])
        else:
            placed = series
    oldest_kept = placed[-1][0] - _RETENTION
    if placed[0][0] <= oldest_kept:
        placed = placed[bisect_left(placed, oldest_kept + _ONE_DAY, key=_day_of) :]
    return placed


def with_features(
    signals: CustomerSignals,
    *,
    used: frozenset[str] = frozenset(),
    available: int | None = None,
) -> CustomerSignals:
    """Add features seen in use (a set, so replays change nothing) and/or the plan's total."""
    if available is not None and available < 0:
        raise ValueError("features available must not be negative")
    grows = not used <= signals.features_used
    if not grows and (available is None or available == signals.features_available):
        return signals
    return evolve(
        signals,
        features_used=signals.features_used | used if grows else signals.features_used,
        features_available=available if available is not None else signals.features_available,
    )


def with_milestone(signals: CustomerSignals, milestone: Milestone, at: datetime) -> CustomerSignals:
    """Record a milestone at its earliest reported date: reaching it again changes nothing."""
    require_aware(at)
    known = signals.milestones.get(milestone)
    if known is not None and known <= at:
        return signals
    return evolve(signals, milestones=MappingProxyType({**signals.milestones, milestone: at}))


def with_payment(
    signals: CustomerSignals, *, failed_invoices: int, past_due: bool, at: datetime
) -> CustomerSignals:
    """Keep the newest payment state by event time, as the billing system reported it."""
    require_aware(at)
    if failed_invoices < 0:
        raise ValueError("failed_invoices must not be negative")
    if signals.payment is not None and at < signals.payment.at:
        return signals
    return evolve(signals, payment=PaymentState(failed_invoices, past_due, at))


def with_sentiment(
    signals: CustomerSignals, kind: SentimentKind, value: int, at: datetime
) -> CustomerSignals:
    """Keep the newest survey answer by event time: an old NPS arriving late does not win."""
    answer = Sentiment(kind, value, at)
    if signals.sentiment is not None and at < signals.sentiment.at:
        return signals
    return evolve(signals, sentiment=answer)


def with_expansion(signals: CustomerSignals, kind: ExpansionKind, at: datetime) -> CustomerSignals:
    """Add an expansion, add-on or renewal to the history (kept sorted, duplicates dropped)."""
    require_aware(at)
    added, history = Expansion(kind, at), signals.expansions
    if added in history:
        return signals
    if not history or _expansion_key(history[-1]) < _expansion_key(added):
        return evolve(signals, expansions=(*history, added))
    return evolve(signals, expansions=tuple(sorted((*history, added), key=_expansion_key)))


def _expansion_key(expansion: Expansion) -> tuple[datetime, str]:
    return expansion.at, expansion.kind.value
