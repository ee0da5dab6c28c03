"""SQL of the health-scoring schema. Each function is one statement, so a batch costs a
constant number of round trips whatever its size. Nothing here commits: the caller's
transaction (consumer batch, scheduler run, route) does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    delete,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.db.bulk import UnnestInsert, any_of
from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import Band
from fourfold.health.domain.trend import trend_instants
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


_UPSERT_CUSTOMERS = UnnestInsert(customers, conflict="customer_id")
_INSERT_HISTORY = UnnestInsert(score_history)


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
        .where(customers.c.customer_id == any_of(wanted))
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
        select(overrides).where(overrides.c.customer_id == any_of(list(ids)))
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


_TREND_POINTS = text(
    "SELECT i.id AS customer_id, p.at, p.computed_score "
    "FROM unnest(CAST(:ids AS text[])) AS i(id) "
    "CROSS JOIN unnest(CAST(:instants AS timestamptz[])) AS t(instant) "
    "JOIN LATERAL (SELECT h.at, h.computed_score FROM score_history AS h "
    "  WHERE h.customer_id = i.id AND h.at <= t.instant AND h.at >= :since "
    "  ORDER BY h.at DESC, h.id DESC LIMIT 1) AS p ON true"
)


async def load_trend_history(
    session: AsyncSession, ids: Iterable[str], as_of: datetime, since: datetime
) -> dict[str, list[tuple[datetime, int | None]]]:
    """Per customer, the computed-score points the trend at `as_of` compares with: the newest
    point since `since` at or before each of `trend_instants(as_of)`. Two index probes per
    customer, whatever the length of its history."""
    parameters = {"ids": list(ids), "instants": list(trend_instants(as_of)), "since": since}
    found: dict[str, list[tuple[datetime, int | None]]] = {}
    for row in await session.execute(_TREND_POINTS, parameters):
        found.setdefault(row.customer_id, []).append((row.at, row.computed_score))
    return found


async def save_customers(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace the current rows in one statement (the ids must be distinct)."""
    await _UPSERT_CUSTOMERS.execute(session, rows)


async def add_history(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert history points in one statement."""
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
