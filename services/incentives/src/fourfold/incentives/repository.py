"""SQL of the incentives schema that the writers use. One statement per function, so a
batch costs a constant number of round trips whatever its size. Nothing here commits: the
caller's transaction (consumer batch, route) does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import orjson
from pydantic import TypeAdapter
from sqlalchemy import TextClause, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.db.bulk import UnnestInsert, any_of
from fourfold.events import Envelope, parse_event
from fourfold.events.registry import AnyEvent
from fourfold.incentives.domain.caps import CapKey
from fourfold.incentives.domain.entries import Entry, period_of
from fourfold.incentives.models import (
    entries,
    entry_transitions,
    events,
    programs,
    statement_transitions,
)

_INSERT_TRANSITIONS = UnnestInsert(
    entry_transitions, columns=("entry_id", "partner_id", "status", "reason", "actor", "at")
)

_LOCK = text(  # one row back, not one per key
    "SELECT count(pg_advisory_xact_lock(hashtextextended(x, 0))) FROM (SELECT x"
    " FROM json_array_elements_text(CAST(:keys AS json)) AS x ORDER BY x) AS k"
)


async def lock(session: AsyncSession, keys: Iterable[str]) -> None:
    """Transaction-scoped advisory locks, taken in key order so lockers never deadlock."""
    wanted = sorted(set(keys))
    if wanted:
        await session.execute(_LOCK, {"keys": _keys(wanted)})


def customer_lock(customer_id: str) -> str:
    return f"customer:{customer_id}"


def statement_lock(partner_id: str, period: str) -> str:
    """The lock a statement's approval, payment and its entries' decisions take."""
    return f"statement:{partner_id}:{period}"


def cap_lock(partner_id: str, period: str) -> str:
    """The lock a cap is checked under: one per partner and period."""
    return f"cap:{partner_id}:{period}"


async def store_events(
    session: AsyncSession, kept: Sequence[Envelope], *, locks: Iterable[str] = ()
) -> set[tuple[str, str]]:
    """Keep the lifecycle events (a replayed copy is a no-op), after taking the `locks`
    (advisory, as `lock()`), in one statement; returns the (source, id) of those stored
    now, i.e. not already kept. The locks come before any row is inserted (the INSERT
    reads the materialised lock CTE), so every locker orders lock then insert.

    The payload is the event as its model writes it, not the bytes it came as: parsing is
    lax (an integer `completed_at` is an instant), and the SQL that reads inside payloads
    (the adoption sweep, the views) casts the model's ISO text."""
    if not kept:
        await lock(session, locks)
        return set()
    columns: dict[str, list[Any]] = {
        "event_source": [e.source for e in kept],
        "event_id": [e.id for e in kept],
        "type": [e.type for e in kept],
        "customer_id": [getattr(e.data, "customer_id", None) for e in kept],
        "partner_id": [getattr(e.data, "partner_id", None) for e in kept],
        "time": [e.time for e in kept],
        "payload": [orjson.Fragment(e.to_json_bytes()) for e in kept],
    }
    result = await session.execute(
        _STORE_EVENTS, {**_encoded(_EVENT_ROWS, columns), "lock_keys": _keys(locks)}
    )
    return {(row.event_source, row.event_id) for row in result}


def _encoded(rows: UnnestInsert, columns: dict[str, list[Any]]) -> dict[str, str]:
    """Each column's values as `rows` encodes them (one JSON array per column), straight
    from the values: no row dict per row, as `UnnestInsert.parameters` would need."""
    return {name: rows.encoders[name](values) for name, values in columns.items()}


def _keys(keys: Iterable[str]) -> str:
    """Keys (lock keys, customer ids) as one JSON array, as the statements unpack them."""
    return orjson.dumps(sorted(set(keys))).decode()


# The rows as `fourfold.db.bulk.UnnestInsert` encodes and unpacks them (one JSON array per
# column; instants as UTC): its statement, with the lock CTE joined in before the rows are
# ordered, and conflicts skipped.
_EVENT_ROWS = UnnestInsert(
    events,
    columns=("event_source", "event_id", "type", "customer_id", "partner_id", "time", "payload"),
)
_ROWS_ORDER = " ORDER BY r.ordinal"


def _store_events_statement() -> TextClause:
    insert = _EVENT_ROWS.statement.text
    if not insert.endswith(_ROWS_ORDER) or insert.count(_ROWS_ORDER) != 1:
        raise AssertionError("UnnestInsert's statement changed shape: store_events builds on it")
    return text(
        "WITH locked AS MATERIALIZED (SELECT count(pg_advisory_xact_lock(hashtextextended(x, 0)))"
        " AS n FROM (SELECT x FROM json_array_elements_text(CAST(:lock_keys AS json)) AS x"
        " ORDER BY x) AS k),"
        f" stored AS ({insert.removesuffix(_ROWS_ORDER)} CROSS JOIN locked{_ROWS_ORDER}"
        " ON CONFLICT DO NOTHING RETURNING event_source, event_id)"
        " SELECT event_source, event_id FROM stored"
    )


_STORE_EVENTS = _store_events_statement()


def _parse(rows: Iterable[Any]) -> list[Envelope]:
    return [parse_event(row.payload) for row in rows]


# The pydantic-core validator of the event union, called on a stored payload's text without
# TypeAdapter's Python wrapper (as the consumer's `parse_record` does on a record's bytes):
# the history read of every batch. Same schema as `parse_event`.
_validate_json = TypeAdapter(AnyEvent).validator.validate_json


async def history(
    session: AsyncSession, customer_ids: Sequence[str], fresh: Sequence[Envelope] = ()
) -> list[Envelope]:
    """Every kept event of these customers, and the tier changes and certifications of the
    partners those events name, in one statement. `fresh` (already parsed, just stored) are
    not read back: they are returned as they are."""
    rows = await session.execute(
        _HISTORY, {"customers": _keys(customer_ids), "types": PARTNER_TYPES}
    )
    known = {(e.source, e.id) for e in fresh}
    stored = [
        cast(Envelope, _validate_json(payload))
        for payload, event_source, event_id in rows
        if (event_source, event_id) not in known
    ]
    return [*stored, *fresh]


# The payload as its text (json is stored as sent): validated in one pydantic-core call,
# and the fresh events' rows, dropped, are never decoded.
_HISTORY = text(
    "WITH own AS (SELECT payload, partner_id, event_source, event_id FROM events "
    "WHERE customer_id = ANY(ARRAY(SELECT json_array_elements_text(CAST(:customers AS json))))) "
    "SELECT CAST(payload AS text), event_source, event_id FROM own UNION ALL "
    "SELECT CAST(payload AS text), event_source, event_id FROM events WHERE customer_id IS NULL "
    "AND type = ANY(CAST(:types AS text[])) "
    "AND partner_id IN (SELECT DISTINCT partner_id FROM own WHERE partner_id IS NOT NULL)"
)


PARTNER_TYPES = ["partner.tier_changed", "partner.certified"]


async def partner_events(session: AsyncSession, partner_id: str) -> list[Envelope]:
    """The partner's kept tier changes and certifications."""
    query = text(
        "SELECT payload FROM events WHERE customer_id IS NULL AND partner_id = :partner "
        "AND type = ANY(CAST(:types AS text[]))"
    )
    return _parse(await session.execute(query, {"partner": partner_id, "types": PARTNER_TYPES}))


_ADOPTION_CANDIDATES = text(
    "WITH onboarded AS ("
    " SELECT customer_id, min(CAST(payload->'data'->>'completed_at' AS timestamptz)) AS at"
    " FROM events WHERE type = 'milestone.completed' AND customer_id > :after"
    " AND payload->'data'->>'milestone' = 'first_value' GROUP BY customer_id),"
    " scored AS (SELECT e.customer_id, e.event_id, e.payload->'data'->>'band' AS band,"
    " CAST(e.payload->'data'->>'scored_at' AS timestamptz) AS at"
    " FROM events e JOIN onboarded o USING (customer_id) WHERE e.type = 'health.changed'),"
    " bands AS (SELECT customer_id,"
    " (array_agg(band ORDER BY at DESC, event_id DESC))[1] AS latest,"
    " max(at) FILTER (WHERE band <> 'green') AS last_not_green"
    " FROM scored WHERE at <= :now GROUP BY customer_id)"
    " SELECT o.customer_id FROM onboarded o JOIN bands b USING (customer_id)"
    " WHERE b.latest = 'green' AND o.at <= :cutoff"
    " AND (b.last_not_green IS NULL OR b.last_not_green <= :cutoff)"
    " AND NOT EXISTS (SELECT 1 FROM entries n WHERE n.customer_id = o.customer_id"
    " AND n.rule = 'adoption_bonus')"
    " ORDER BY o.customer_id LIMIT :limit"
)


async def adoption_candidates(
    session: AsyncSession, *, now: datetime, green_days: int, after: str, limit: int
) -> list[str]:
    """Customers (after `after`, in id order) that may have completed an adoption streak by
    `now`: onboarded (first_value) and green at `now` for at least `green_days` as far as the
    kept band changes show, with no adoption bonus yet. A superset: the walk decides."""
    cutoff = now - timedelta(days=green_days)
    rows = await session.execute(
        _ADOPTION_CANDIDATES, {"after": after, "now": now, "cutoff": cutoff, "limit": limit}
    )
    return [row.customer_id for row in rows]


async def all_history(session: AsyncSession, until: datetime) -> list[Envelope]:
    """Every kept event up to `until` (recalculation and what-if)."""
    query = select(events.c.payload).where(events.c.time < until).order_by(events.c.time)
    return _parse(await session.execute(query))


def entry_from_row(row: Any) -> Entry:
    return Entry(
        entry_id=row.entry_id,
        partner_id=row.partner_id,
        customer_id=row.customer_id,
        rule=row.rule,
        kind=row.kind,
        amount=Decimal(row.amount),
        currency=row.currency,
        event_time=row.event_time,
        payable_at=row.payable_at,
        source_event_id=row.source_event_id,
        program_id=row.program_id,
        program_version=row.program_version,
        reverses=row.reverses_entry_id,
        inputs=row.inputs,
    )


_CUSTOMER_ENTRIES = text(
    "SELECT e.* FROM json_array_elements_text(CAST(:customers AS json)) AS c(customer_id)"
    " CROSS JOIN LATERAL (SELECT * FROM entries WHERE entries.customer_id = c.customer_id) AS e"
    " ORDER BY e.seq"
).columns(*entries.c)  # typed as the table's columns: inputs comes back as jsonb, decoded


async def customer_entries(session: AsyncSession, customer_ids: Sequence[str]) -> list[Entry]:
    """The entries of these customers, in ledger order. One index lookup per customer
    (LATERAL), whatever the statistics say: `customer_id = ANY(:ids)` with a batch's few
    hundred ids is estimated at a large share of a young, unanalysed table, and planned as
    a sequential scan of the whole ledger (measured: 67 ms a batch, the costliest
    statement of the bench's run, vs about 2 ms by the index)."""
    rows = await session.execute(_CUSTOMER_ENTRIES, {"customers": _keys(customer_ids)})
    return [entry_from_row(row) for row in rows]


async def all_entries(session: AsyncSession) -> list[Entry]:
    return [
        entry_from_row(r) for r in await session.execute(select(entries).order_by(entries.c.seq))
    ]


async def cap_used(
    session: AsyncSession, keys: Iterable[CapKey], paid_of: Sequence[str] = ()
) -> tuple[dict[CapKey, Decimal], dict[str, set[str]]]:
    """What each (partner, period, currency) already earned against its cap: accruals and the
    system's adjustments, in the month of their event time (domain/caps.py); and, in the
    same statement, the paid periods of the partners `paid_of` (as `paid_periods`)."""
    wanted = sorted(set(keys))
    partners, periods, currencies = (
        (list(column) for column in zip(*wanted, strict=True)) if wanted else ([], [], [])
    )
    result = await session.execute(
        _CAP_USED_AND_PAID,
        {
            "partners": partners,
            "periods": periods,
            "currencies": currencies,
            "paid_of": sorted(set(paid_of)),
        },
    )
    used = {key: Decimal(0) for key in wanted}
    frozen: dict[str, set[str]] = {p: set() for p in paid_of}
    for row in result:
        if row.currency is None:
            frozen[row.partner_id].add(row.period)
        else:
            used[(row.partner_id, row.period, row.currency)] = Decimal(row.used)
    return used, frozen


_CAP_USED_AND_PAID = text(
    "SELECT e.partner_id, e.earned_period AS period, e.currency, sum(e.amount) AS used"
    " FROM entries e JOIN unnest(CAST(:partners AS text[]), CAST(:periods AS text[]),"
    " CAST(:currencies AS text[])) AS k(partner_id, period, currency)"
    " ON e.partner_id = k.partner_id AND e.earned_period = k.period AND e.currency = k.currency"
    " WHERE (e.kind = 'accrual' OR (e.kind = 'adjustment'"
    " AND e.source_event_id NOT LIKE 'dispute:%'))"
    " GROUP BY e.partner_id, e.earned_period, e.currency"
    " UNION ALL SELECT partner_id, period, NULL, NULL FROM statement_transitions"
    " WHERE status = 'paid' AND partner_id = ANY(CAST(:paid_of AS text[]))"
)


async def paid_periods(session: AsyncSession, partner_ids: Sequence[str]) -> dict[str, set[str]]:
    """Each partner's paid (frozen) periods."""
    query = select(statement_transitions.c.partner_id, statement_transitions.c.period).where(
        statement_transitions.c.partner_id == any_of(partner_ids),
        statement_transitions.c.status == "paid",
    )
    frozen: dict[str, set[str]] = {}
    for row in await session.execute(query):
        frozen.setdefault(row.partner_id, set()).add(row.period)
    return frozen


async def insert_entries(
    session: AsyncSession, new: Sequence[Entry], periods: Sequence[str]
) -> set[str]:
    """Append entries, each in its statement period; those already in the ledger (same
    identity) are skipped. Returns the ids actually written. The columns are built straight
    from the entries (no row dict per entry): one array per column, as `UnnestInsert`."""
    if not new:
        return set()
    columns: dict[str, list[Any]] = {
        "entry_id": [e.entry_id for e in new],
        "partner_id": [e.partner_id for e in new],
        "customer_id": [e.customer_id for e in new],
        "rule": [e.rule for e in new],
        "kind": [e.kind for e in new],
        "amount": [e.amount for e in new],
        "currency": [e.currency for e in new],
        "period": list(periods),
        "earned_period": [period_of(e.event_time) for e in new],
        "event_time": [e.event_time for e in new],
        "payable_at": [e.payable_at for e in new],
        "source_event_id": [e.source_event_id for e in new],
        "program_id": [e.program_id for e in new],
        "program_version": [e.program_version for e in new],
        "reverses_entry_id": [e.reverses for e in new],
        "inputs": [e.inputs if isinstance(e.inputs, dict) else dict(e.inputs) for e in new],
    }
    result = await session.execute(_INSERT_NEW_ENTRIES, _encoded(_ENTRY_ROWS, columns))
    return {row.entry_id for row in result}


# Every column but the identity and the server-set creation time, as UnnestInsert writes them.
_ENTRY_ROWS = UnnestInsert(
    entries, columns=[c.name for c in entries.c if c.name not in ("seq", "created_at")]
)
_INSERT_NEW_ENTRIES = text(
    f"{_ENTRY_ROWS.statement.text} ON CONFLICT DO NOTHING RETURNING entry_id"
)


async def add_transitions(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await _INSERT_TRANSITIONS.execute(session, rows)


async def add_statement_transition(session: AsyncSession, row: dict[str, Any]) -> None:
    await session.execute(statement_transitions.insert().values(**row))


async def activated_programs(session: AsyncSession) -> list[Any]:
    query = (
        select(programs.c.version, programs.c.source)
        .where(programs.c.activated_at.is_not(None))
        .order_by(programs.c.version)
    )
    return list(await session.execute(query))


async def program_row(session: AsyncSession, version: str) -> Any | None:
    return (await session.execute(select(programs).where(programs.c.version == version))).first()


async def add_program(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Insert a program version; False when that version already exists."""
    statement = text(
        "INSERT INTO programs (version, program_id, effective_from, effective_to, source, "
        "uploaded_by, uploaded_at, activated_at) VALUES (:version, :program_id, "
        ":effective_from, :effective_to, :source, :uploaded_by, :uploaded_at, :activated_at) "
        "ON CONFLICT (version) DO NOTHING RETURNING version"
    )
    return (await session.execute(statement, row)).first() is not None


async def activate_program(session: AsyncSession, version: str, at: datetime) -> None:
    await session.execute(
        programs.update()
        .where(programs.c.version == version, programs.c.activated_at.is_(None))
        .values(activated_at=at)
    )


async def count_entries(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(entries)) or 0)
