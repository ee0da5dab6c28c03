"""SQL of the health-scoring schema. Each function is one statement, so a batch costs a
constant number of round trips whatever its size. Nothing here commits: the caller's
transaction (consumer batch, scheduler run, route) does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    DateTime,
    Integer,
    Numeric,
    String,
    Table,
    TextClause,
    any_,
    delete,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import Band
from fourfold.health.evaluation import Previous
from fourfold.health.models import customers, overrides, score_history
from fourfold.health.state import CustomerState, state_from_json

Stored = tuple[CustomerState, Previous]

_STORED_COLUMNS = (
    customers.c.customer_id,
    customers.c.partner_id,
    customers.c.signals,
    customers.c.score,
    customers.c.computed_score,
    customers.c.band,
    customers.c.step,
    customers.c.history_at,
    customers.c.version,
)


def _any_of(ids: Sequence[str]) -> ColumnElement[Any]:
    """`= ANY(:ids)` with one array parameter: one statement text whatever the number of ids
    (an expanding IN list is re-rendered per execution, and per list length)."""
    array: BindParameter[list[str]] = literal(list(ids), ARRAY(String))
    return any_(array)


def _array_type(table: Table, name: str) -> str:
    """The PostgreSQL array type a column's values travel in. Strings and JSONB go as text
    (the INSERT's assignment then checks lengths, JSONB is cast in the SELECT)."""
    kind = table.c[name].type
    if isinstance(kind, (String, JSONB)):
        return "text[]"
    if isinstance(kind, BigInteger):
        return "bigint[]"
    if isinstance(kind, Integer):
        return "integer[]"
    if isinstance(kind, Numeric):
        return "numeric[]"
    if isinstance(kind, DateTime):
        return "timestamptz[]" if kind.timezone else "timestamp[]"
    raise TypeError(f"{table.name}.{name}: no array type for {kind!r}")


class _UnnestInsert:
    """`INSERT … SELECT … FROM unnest(:col1, :col2, …)`: all rows in one statement with one
    array parameter per column (no per-row, per-column bind processing), JSONB columns as
    orjson-encoded text. With `conflict`, an upsert replacing every other column."""

    def __init__(self, table: Table, *, conflict: str | None = None) -> None:
        self.names = tuple(c.name for c in table.c if c.identity is None)
        self.json = frozenset(n for n in self.names if isinstance(table.c[n].type, JSONB))
        columns = ", ".join(f'"{n}"' for n in self.names)
        arrays = ", ".join(f"CAST(:{n} AS {_array_type(table, n)})" for n in self.names)
        values = ", ".join(
            f'CAST(r."{n}" AS jsonb)' if n in self.json else f'r."{n}"' for n in self.names
        )
        sql = (
            f'INSERT INTO "{table.name}" ({columns}) SELECT {values} '
            f"FROM unnest({arrays}) AS r({columns})"
        )
        if conflict is not None:
            replaced = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in self.names if n != conflict)
            sql += f' ON CONFLICT ("{conflict}") DO UPDATE SET {replaced}'
        self.statement: TextClause = text(sql)

    def parameters(self, rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
        """One list per column. JSON values, None included, encode as the JSON text they
        were stored as before (None is the JSON `null`, as SQLAlchemy's JSONB type stores it)."""
        return {
            name: [orjson.dumps(row[name]).decode() for row in rows]
            if name in self.json
            else [row[name] for row in rows]
            for name in self.names
        }

    async def execute(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        await session.execute(self.statement, self.parameters(rows))


_UPSERT_CUSTOMERS = _UnnestInsert(customers, conflict="customer_id")
_INSERT_HISTORY = _UnnestInsert(score_history)


def _stored(row: Any) -> Stored:
    previous = Previous(
        score=row.score,
        computed_score=row.computed_score,
        band=row.band,
        step=row.step,
        history_at=row.history_at,
        version=row.version,
        partner_id=row.partner_id,
    )
    return state_from_json(row.signals), previous


_LOCK_IDS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(x, 0)) "
    "FROM unnest(CAST(:ids AS text[])) AS x ORDER BY x"
)
"""A transaction-scoped advisory lock per customer id, taken in id order: it exists before the
customer's row does, so two writers of a new customer's first events serialise too."""


async def lock_customers(session: AsyncSession, ids: Iterable[str]) -> dict[str, Stored]:
    """Lock `ids` (known or not: an advisory lock per id, then the known rows, both in id
    order so lockers never deadlock) and load the known customers among them."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    await session.execute(_LOCK_IDS, {"ids": wanted})
    query = (
        select(*_STORED_COLUMNS)
        .where(customers.c.customer_id == _any_of(wanted))
        .order_by(customers.c.customer_id)
        .with_for_update()
    )
    return {row.customer_id: _stored(row) for row in await session.execute(query)}


async def lock_due_customers(session: AsyncSession, now: datetime, limit: int) -> dict[str, Stored]:
    """Lock up to `limit` customers whose result may have moved with time by `now`; rows a
    consumer batch holds are skipped (that batch rescores them anyway)."""
    query = (
        select(*_STORED_COLUMNS)
        .where(customers.c.next_recompute_at <= now)
        .order_by(customers.c.next_recompute_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return {row.customer_id: _stored(row) for row in await session.execute(query)}


async def load_overrides(session: AsyncSession, ids: Iterable[str]) -> dict[str, ManualOverride]:
    """The manual override of each customer among `ids` that has one."""
    rows = await session.execute(
        select(overrides).where(overrides.c.customer_id == _any_of(list(ids)))
    )
    return {row.customer_id: _override(row) for row in rows}


def _override(row: Any) -> ManualOverride:
    return ManualOverride(
        reason=row.reason,
        set_at=row.set_at,
        expires_at=row.expires_at,
        score=row.score,
        band=None if row.band is None else Band(row.band),
        set_by=row.set_by,
    )


async def load_trend_history(
    session: AsyncSession, ids: Iterable[str], since: datetime
) -> dict[str, list[tuple[datetime, int | None]]]:
    """Computed-score points since `since`, per customer, for the trend."""
    query = select(
        score_history.c.customer_id, score_history.c.at, score_history.c.computed_score
    ).where(score_history.c.customer_id == _any_of(list(ids)), score_history.c.at >= since)
    found: dict[str, list[tuple[datetime, int | None]]] = {}
    for row in await session.execute(query):
        found.setdefault(row.customer_id, []).append((row.at, row.computed_score))
    return found


async def save_customers(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace the current rows in one statement (the ids must be distinct)."""
    if rows:
        await _UPSERT_CUSTOMERS.execute(session, rows)


async def add_history(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert history points in one statement."""
    if rows:
        await _INSERT_HISTORY.execute(session, rows)


async def put_override(session: AsyncSession, customer_id: str, override: ManualOverride) -> None:
    values = {
        "customer_id": customer_id,
        "score": override.score,
        "band": None if override.band is None else override.band.value,
        "reason": override.reason,
        "set_by": override.set_by,
        "set_at": override.set_at,
        "expires_at": override.expires_at,
    }
    statement = insert(overrides).values(values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={k: statement.excluded[k] for k in values if k != "customer_id"},
        )
    )


async def remove_override(session: AsyncSession, customer_id: str) -> bool:
    """Delete the customer's override; False when there was none."""
    result = await session.execute(
        delete(overrides)
        .where(overrides.c.customer_id == customer_id)
        .returning(overrides.c.customer_id)
    )
    return result.first() is not None
