"""The one use case every writer of the ledger shares: turn events into entries and append
them, with the events they publish.

The consumer calls `accrue_events` for a batch; recalculation and disputes call
`append_entries` with the adjustments they computed. Statements per batch: lock the
customers and keep the events (one statement); load their history and tiers, then the
entries of those with a past; walk (pure); when a cap is in play lock each (partner,
period) and the statement of each past month earned in, then load what it already earned
and the partners' paid periods (one statement), walk again if a cap binds; append the
entries (without a cap, the past months' statement locks come just before the paid
periods are read); stage `incentive.accrued` / `incentive.reversed`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.events import INCENTIVES_TOPIC, Envelope, HealthChanged
from fourfold.incentives import repository
from fourfold.incentives.domain.accrual import Accrual, accrue
from fourfold.incentives.domain.caps import CapKey, cap_key, counts_toward_cap
from fourfold.incentives.domain.entries import Entry, entry_id_for, period_of
from fourfold.incentives.domain.program import ProgramSet
from fourfold.incentives.domain.state import customer_of_event, partner_of_event
from fourfold.incentives.domain.statements import open_period
from fourfold.incentives.metrics import AMOUNT, CAP_HITS, DUPLICATE_ENTRIES, ENTRIES
from fourfold.kafka.outbox import EncodedEvent, encode_event

SOURCE = "fourfold/incentives"

KEPT_TYPES = frozenset(
    {
        "subscription.created",
        "subscription.renewed",
        "subscription.expanded",
        "subscription.addon_added",
        "subscription.contracted",
        "subscription.cancelled",
        "milestone.completed",
        "customer.partner_changed",
        "partner.certified",
        "partner.tier_changed",
        "health.changed",
    }
)


def kept(event: Envelope) -> bool:
    """A lifecycle event the rules read. Of the health changes, only those that move the
    band (or are a customer's first): the band timeline is all the rules need."""
    if event.type not in KEPT_TYPES:
        return False
    if isinstance(event, HealthChanged):
        return event.data.previous_band is None or event.data.band != event.data.previous_band
    return True


async def accrue_events(
    session: AsyncSession, batch: Sequence[Envelope], *, programs: ProgramSet, now: datetime
) -> tuple[list[Entry], list[EncodedEvent]]:
    """Keep the batch's lifecycle events and append the entries they earn; returns the
    entries written and the events to publish."""
    events = [e for e in batch if kept(e)]
    if not events:
        return [], []
    customers = sorted({c for e in events if (c := customer_of_event(e)) is not None})
    stored_now = await repository.store_events(
        session, events, locks=[repository.customer_lock(c) for c in customers]
    )
    if not customers:  # partner-level facts only: they apply to later events
        return [], []
    return await accrue_customers(
        session,
        customers,
        fresh=events,
        programs=programs,
        now=now,
        sweep_at=None,
        stored_now=stored_now,
    )


async def accrue_customers(
    session: AsyncSession,
    customers: Sequence[str],
    *,
    fresh: Sequence[Envelope],
    programs: ProgramSet,
    now: datetime,
    sweep_at: datetime | None,
    stored_now: Collection[tuple[str, str]] | None = None,
) -> tuple[list[Entry], list[EncodedEvent]]:
    """Lock these customers, walk their history (the `fresh` events earn) and append what
    it produces; with `sweep_at`, also what time alone made due by then (the adoption
    sweep). Caps are checked under the (partner, period) locks.

    `stored_now`, the (source, id) of the fresh events this transaction stored first (and
    locked the customers before storing: `store_events`), lets the customers seen for the
    first time skip the entries query: a customer with no other kept event has no entry
    (every entry comes from a kept event of its customer, stored in the transaction that
    accrued it)."""
    if stored_now is None:
        await repository.lock(session, [repository.customer_lock(c) for c in customers])
    history = await repository.history(session, customers, fresh)
    fresh_ids = {e.id for e in fresh}
    known = customers
    if stored_now is not None:
        known = sorted(_customers_with_a_past(history, fresh, stored_now))
    existing = await repository.customer_entries(session, known) if known else []

    def walk_with(cap_used: dict[CapKey, Decimal] | None) -> Accrual:
        return accrue(
            history=history,
            fresh=fresh_ids,
            existing=existing,
            programs=programs,
            cap_used=cap_used,
            sweep_at=sweep_at,
        )

    walk = walk_with(None)
    frozen = None
    if walk.cap_keys:
        keys = walk.cap_keys
        caps = [repository.cap_lock(p, period) for p, period, _ in keys]
        await repository.lock(session, caps + late_statement_locks(walk.entries, now))
        paid_of = sorted({entry.partner_id for entry in walk.entries})
        used, frozen = await repository.cap_used(session, keys, paid_of)
        if _any_cap_binds(walk.entries, used, programs):
            walk = walk_with(used)
    return await append_entries(session, walk.entries, now=now, frozen=frozen)


def _customers_with_a_past(
    history: Iterable[Envelope], fresh: Sequence[Envelope], stored_now: Collection[tuple[str, str]]
) -> set[str]:
    """The customers that may already have entries: a kept event other than this batch's
    new ones (read from the history, or a fresh event that was already kept: a replay)."""
    new = {(e.source, e.id) for e in fresh if (e.source, e.id) in stored_now}
    return {
        c
        for e in history
        if (e.source, e.id) not in new and (c := customer_of_event(e)) is not None
    }


def _any_cap_binds(
    entries: Sequence[Entry], used: dict[CapKey, Decimal], programs: ProgramSet
) -> bool:
    """Whether what the partners already earned plus the uncapped new accruals reach a cap;
    when none does, the uncapped walk is the capped one and need not run again."""
    totals = dict(used)
    caps: dict[CapKey, Decimal] = {}
    for entry in entries:
        if not counts_toward_cap(entry):
            continue
        key = cap_key(entry)
        totals[key] = totals.get(key, Decimal(0)) + entry.amount
        program = programs.by_version(entry.program_version)
        cap = None if program is None else program.caps.per_period.get(entry.currency)
        if cap is not None:
            caps[key] = min(cap, caps.get(key, cap))
    return any(totals[key] > cap for key, cap in caps.items())


async def append_entries(
    session: AsyncSession,
    new: Sequence[Entry],
    *,
    now: datetime,
    period: str | None = None,
    frozen: dict[str, set[str]] | None = None,
) -> tuple[list[Entry], list[EncodedEvent]]:
    """Append entries (each in its period, or the next open one when that one is paid, or
    `period` when given) and return those written with the events announcing them.
    `frozen`, the paid periods already read in this transaction (with the caps, after the
    `late_statement_locks`), saves reading them again for the partners it covers."""
    if not new:
        return [], []
    for entry in new:
        _check_identity(entry)
    frozen = dict(frozen or {})
    missing = sorted({e.partner_id for e in new} - set(frozen))
    if missing:
        if period is None:
            late = late_statement_locks([e for e in new if e.partner_id in missing], now)
            await repository.lock(session, late)
        frozen.update(await repository.paid_periods(session, missing))
    periods = [_period_for(e, frozen.get(e.partner_id, set()), now, period) for e in new]
    written = await repository.insert_entries(session, new, periods)
    DUPLICATE_ENTRIES.inc(len(new) - len(written))
    appended: list[Entry] = []
    announcements: list[EncodedEvent] = []
    counted: dict[tuple[str, str, str], list[Decimal]] = {}
    for entry, entry_period in zip(new, periods, strict=True):
        if entry.entry_id not in written:
            continue
        appended.append(entry)
        announcements.append(announce(entry, entry_period, now))
        counted.setdefault((entry.kind, entry.rule, entry.currency), []).append(entry.amount)
        if entry.inputs.get("capped"):
            CAP_HITS.labels(entry.rule, entry.currency).inc()
    for labels, amounts in counted.items():  # one label lookup per kind, rule and currency
        ENTRIES.labels(*labels).inc(len(amounts))
        AMOUNT.labels(*labels).inc(float(sum(map(abs, amounts), Decimal(0))))
    return appended, announcements


def late_statement_locks(entries: Iterable[Entry], now: datetime) -> list[str]:
    """The statement locks of the past months these entries belong to, taken before their
    paid periods are read: an admin may be paying such a month at this moment, and an entry
    that landed in it as it was paid would stay open in a frozen month. (The current month
    cannot be approved yet, so the live stream's entries take none.)"""
    current = period_of(now)
    return sorted(
        {
            repository.statement_lock(e.partner_id, month)
            for e in entries
            if (month := period_of(e.event_time)) < current
        }
    )


def _check_identity(entry: Entry) -> None:
    """The primary key is the ledger's one-entry-per-identity constraint only if every id is
    its identity's uuid5: refuse an entry built any other way."""
    expected = entry_id_for(
        source_event_id=entry.source_event_id,
        rule=entry.rule,
        partner_id=entry.partner_id,
        reverses=entry.reverses,
    )
    if entry.entry_id != expected:
        raise ValueError(f"entry {entry.entry_id}: not the id of its identity {entry.key}")


def _period_for(entry: Entry, frozen: set[str], now: datetime, forced: str | None) -> str:
    """The statement period of an entry: its event time's month, unless that statement is
    paid (frozen), then the first open period from now on."""
    if forced is not None:
        return open_period(forced, frozen)
    period = period_of(entry.event_time)
    return open_period(period_of(now), frozen) if period in frozen else period


def announce(entry: Entry, period: str, now: datetime) -> EncodedEvent:
    """`incentive.reversed` for a reversal, `incentive.accrued` for the rest; the event id
    is the entry id, so a re-sent event is one event downstream.

    Encoded once by orjson, no pydantic model built (this ran once per entry written): every
    field is typed by the entry already, texts cut to the contract's bounds as the model
    would need them. tests/unit/test_announce.py proves that the bytes of every kind of
    entry validate against docs/events/v1/incentive.*.json and parse back to the entry."""
    amount = {"amount": format(entry.amount, "f"), "currency": entry.currency}
    if entry.kind == "reversal" and entry.reverses is not None:
        kind = "incentive.reversed"
        data: dict[str, object] = {
            "entry_id": entry.entry_id,
            "reverses_entry_id": entry.reverses,
            "partner_id": entry.partner_id,
            "customer_id": entry.customer_id,
            "amount": amount,
            "reason": entry.inputs.get("reason", entry.rule)[:500],
            "source_event_id": entry.source_event_id[:128],
        }
    else:
        kind = "incentive.accrued"
        data = {
            "entry_id": entry.entry_id,
            "partner_id": entry.partner_id,
            "customer_id": entry.customer_id,
            "program_id": entry.program_id,
            "program_version": entry.program_version,
            "rule": entry.rule,
            "amount": amount,
            "source_event_id": entry.source_event_id[:128],
            "period": period,
        }
    return encode_event(
        INCENTIVES_TOPIC,
        entry.customer_id,
        event_id=entry.entry_id,
        source=SOURCE,
        event_type=kind,
        time=now,
        data=data,
    )


def partners_of(events: Iterable[Envelope]) -> set[str]:
    return {p for e in events if (p := partner_of_event(e)) is not None}
