"""Read-side SQL for the API: what the writers appended, filtered, paged and summed.
Statuses and balances are derived here from entries and transitions, never stored."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.incentives.errors import InvalidCursor

LAST = (
    "LEFT JOIN LATERAL (SELECT t.status FROM entry_transitions t "
    "WHERE t.entry_id = e.entry_id ORDER BY t.id DESC LIMIT 1) last ON true"
)
STATUS = (
    "CASE WHEN last.status IS NOT NULL THEN last.status "
    "WHEN e.payable_at <= :now THEN 'payable' ELSE 'accrued' END"
)
PARTNER_NOT_REJECTED = (
    "NOT EXISTS (SELECT 1 FROM entry_transitions r WHERE r.partner_id = :partner "
    "AND r.entry_id = e.entry_id AND r.status = 'rejected')"
)
"""The same, for queries of one partner: the anti-join's inner side is that partner's."""
NOT_REJECTED = (
    "NOT EXISTS (SELECT 1 FROM entry_transitions r WHERE r.entry_id = e.entry_id "
    "AND r.status = 'rejected')"
)


_CURSOR = re.compile(r"s:(0|[1-9][0-9]{0,18})")
"""What `encode_cursor` writes: a ledger sequence number (ASCII digits, no sign or spaces)."""
_MAX_SEQ = 2**63 - 1
"""`entries.seq` is a bigint: a larger number would fail in the driver, not match."""


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The sequence number a page starts after. The cursor decodes to a number only (no
    text of the client's reaches the database), bounded to the column's range."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    found = _CURSOR.fullmatch(raw)
    if found is None or int(found[1]) > _MAX_SEQ:
        raise InvalidCursor("not a cursor this API returned")
    return int(found[1])


async def entries_page(
    session: AsyncSession,
    *,
    partner_id: str,
    now: datetime,
    limit: int,
    cursor: str | None,
    period: str | None = None,
    rule: str | None = None,
    customer_id: str | None = None,
    status: str | None = None,
) -> tuple[list[Any], str | None]:
    """A page of a partner's entries in ledger order, after `cursor`."""
    where = ["e.partner_id = :partner", "e.seq > :after"]
    params: dict[str, Any] = {
        "partner": partner_id,
        "after": -1 if cursor is None else decode_cursor(cursor),
        "now": now,
        "limit": limit + 1,
    }
    for column, value in (("period", period), ("rule", rule), ("customer_id", customer_id)):
        if value is not None:
            where.append(f"e.{column} = :{column}")
            params[column] = value
    if status is not None:
        where.append(f"({STATUS}) = :status")
        params["status"] = status
    query = text(
        f"SELECT e.*, {STATUS} AS status FROM entries e {LAST} "
        f"WHERE {' AND '.join(where)} ORDER BY e.seq LIMIT :limit"
    )
    rows = list(await session.execute(query, params))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].seq) if more and rows else None


async def entry(session: AsyncSession, entry_id: str, now: datetime) -> Any | None:
    query = text(f"SELECT e.*, {STATUS} AS status FROM entries e {LAST} WHERE e.entry_id = :id")
    return (await session.execute(query, {"id": entry_id, "now": now})).first()


async def entry_history(session: AsyncSession, entry_id: str) -> Sequence[Any]:
    query = text(
        "SELECT status, reason, actor, at FROM entry_transitions WHERE entry_id = :id ORDER BY id"
    )
    return list(await session.execute(query, {"id": entry_id}))


async def balance(session: AsyncSession, partner_id: str, now: datetime) -> list[Any]:
    """Per currency: total (not rejected), held, payable (past the hold, not paid)."""
    query = text(
        f"SELECT e.currency, sum(e.amount) AS total, "
        f"coalesce(sum(e.amount) FILTER (WHERE ({STATUS}) = 'accrued'), 0) AS held, "
        f"coalesce(sum(e.amount) FILTER (WHERE ({STATUS}) IN ('payable', 'approved')), 0) "
        f"AS payable FROM entries e {LAST} "
        f"WHERE e.partner_id = :partner AND {PARTNER_NOT_REJECTED} "
        "GROUP BY e.currency ORDER BY e.currency"
    )
    return list(await session.execute(query, {"partner": partner_id, "now": now}))


async def payouts(session: AsyncSession, partner_id: str) -> list[Any]:
    """Every paid statement's period, reference and amounts per currency."""
    query = text(
        "SELECT period, payout_reference, payout FROM statement_transitions "
        "WHERE partner_id = :partner AND status = 'paid' ORDER BY period"
    )
    return list(await session.execute(query, {"partner": partner_id}))


async def period_sums(
    session: AsyncSession, partner_id: str, until: str | None = None
) -> list[Any]:
    """Per period, currency and rule (up to `until`), not rejected: earned (> 0), reversed
    (< 0) and the number of entries. One scan feeds a statement's lines and its rules."""
    bound = "" if until is None else "AND e.period <= :until"
    query = text(
        "SELECT e.period, e.currency, e.rule, count(*) AS entries, "
        "coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) AS earned, "
        "coalesce(sum(e.amount) FILTER (WHERE e.amount < 0), 0) AS reversed "
        f"FROM entries e WHERE e.partner_id = :partner {bound} AND {PARTNER_NOT_REJECTED} "
        "GROUP BY e.period, e.currency, e.rule ORDER BY e.period, e.currency, e.rule"
    )
    return list(await session.execute(query, {"partner": partner_id, "until": until}))


async def statement_history(session: AsyncSession, partner_id: str, period: str) -> list[Any]:
    query = text(
        "SELECT status, payout_reference, payout, actor, at FROM statement_transitions "
        "WHERE partner_id = :partner AND period = :period ORDER BY id"
    )
    return list(await session.execute(query, {"partner": partner_id, "period": period}))


async def statement_entries(
    session: AsyncSession, partner_id: str, period: str, now: datetime
) -> Any:
    """Every entry of one statement, streamed in ledger order (the CSV)."""
    query = text(
        f"SELECT e.*, {STATUS} AS status FROM entries e {LAST} "
        "WHERE e.partner_id = :partner AND e.period = :period ORDER BY e.seq"
    )
    return await session.stream(query, {"partner": partner_id, "period": period, "now": now})


async def disputes(
    session: AsyncSession, partner_id: str | None, dispute_id: str | None = None
) -> list[Any]:
    where, params = [], {}
    if partner_id is not None:
        where.append("d.partner_id = :partner")
        params["partner"] = partner_id
    if dispute_id is not None:
        where.append("d.dispute_id = :dispute")
        params["dispute"] = dispute_id
    query = text(
        "SELECT d.dispute_id, d.partner_id, d.entry_id, d.opened_by, d.opened_at, "
        "m.kind, m.author, m.author_role, m.text, m.adjustment_entry_id, m.at "
        "FROM disputes d JOIN dispute_events m ON m.dispute_id = d.dispute_id "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY d.seq, m.id"
    )
    return list(await session.execute(query, params))


async def programs(session: AsyncSession, version: str | None = None) -> list[Any]:
    where = "" if version is None else "WHERE version = :version"
    query = text(f"SELECT * FROM programs {where} ORDER BY effective_from, uploaded_at")
    return list(await session.execute(query, {"version": version}))


async def actual_totals(session: AsyncSession, start: datetime, end: datetime) -> list[Any]:
    """What the ledger holds per partner, rule and currency for events in [start, end)."""
    query = text(
        "SELECT e.partner_id, e.rule, e.currency, sum(e.amount) AS amount FROM entries e "
        f"WHERE e.event_time >= :start AND e.event_time < :end AND {NOT_REJECTED} "
        "AND e.source_event_id NOT LIKE 'dispute:%' "
        "GROUP BY e.partner_id, e.rule, e.currency"
    )
    return list(await session.execute(query, {"start": start, "end": end}))


def decimal(value: Any) -> Decimal:
    return Decimal(value) if value is not None else Decimal(0)
