"""Admin decisions on the ledger: approve or reject an entry, approve a statement, mark it
paid. Every decision is a new transition row; a paid statement is frozen (its entries can
no longer change status, and new entries land in the next open period)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.incentives import queries, repository
from fourfold.incentives.domain.entries import period_of
from fourfold.incentives.errors import Conflict, EntryNotFound, StatementNotFound
from fourfold.incentives.views import money, statements


async def _frozen(session: AsyncSession, partner_id: str, period: str) -> bool:
    return period in (await repository.paid_periods(session, [partner_id])).get(partner_id, set())


async def _locked_entry(session: AsyncSession, entry_id: str, now: datetime) -> Any:
    row = await queries.entry(session, entry_id, now)
    if row is None:
        raise EntryNotFound()
    await repository.lock(session, [repository.statement_lock(row.partner_id, row.period)])
    row = await queries.entry(session, entry_id, now)  # its status after the lock
    assert row is not None  # entries are never deleted
    if await _frozen(session, row.partner_id, row.period):
        raise Conflict(f"statement {row.period} is paid: its entries are frozen")
    return row


async def approve_entry(session: AsyncSession, entry_id: str, *, actor: str, now: datetime) -> None:
    """Approve one entry past its holding period (approving it again changes nothing)."""
    row = await _locked_entry(session, entry_id, now)
    if row.status == "approved":
        return
    if row.status == "accrued":
        raise Conflict(f"entry is in its holding period until {row.payable_at.isoformat()}")
    if row.status != "payable":
        raise Conflict(f"entry is {row.status}")
    await repository.add_transitions(session, [_transition(row, "approved", None, actor, now)])


async def reject_entry(
    session: AsyncSession, entry_id: str, *, reason: str, actor: str, now: datetime
) -> None:
    """Reject an entry with a reason the partner sees; it no longer counts anywhere."""
    row = await _locked_entry(session, entry_id, now)
    if row.status == "rejected":
        raise Conflict("entry is already rejected")
    if row.status == "paid":
        raise Conflict("entry is paid")
    await repository.add_transitions(session, [_transition(row, "rejected", reason, actor, now)])


def _transition(
    row: Any, status: str, reason: str | None, actor: str, now: datetime
) -> dict[str, Any]:
    return {
        "entry_id": row.entry_id,
        "partner_id": row.partner_id,
        "status": status,
        "reason": reason,
        "actor": actor,
        "at": now,
    }


async def _statement_status(session: AsyncSession, partner_id: str, period: str) -> str:
    history = await queries.statement_history(session, partner_id, period)
    return history[-1].status if history else "open"


async def _entries_of(
    session: AsyncSession, partner_id: str, period: str, now: datetime
) -> list[Any]:
    query = text(
        f"SELECT e.entry_id, e.partner_id, e.payable_at, {queries.STATUS} AS status "
        f"FROM entries e {queries.LAST} WHERE e.partner_id = :partner AND e.period = :period"
    )
    params = {"partner": partner_id, "period": period, "now": now}
    return list(await session.execute(query, params))


async def approve_statement(
    session: AsyncSession, partner_id: str, period: str, *, actor: str, now: datetime
) -> None:
    """Approve a past period's statement and every entry in it that is not rejected; refused
    while the period runs or while one of its entries is still held. Approving an approved
    statement again approves the entries that arrived since (a late event of that month)."""
    await repository.lock(session, [repository.statement_lock(partner_id, period)])
    status = await _statement_status(session, partner_id, period)
    if status == "paid":
        raise Conflict(f"statement {period} is paid")
    if period >= period_of(now):
        raise Conflict(f"period {period} is not over yet")
    entries = await _entries_of(session, partner_id, period, now)
    if not entries:
        raise StatementNotFound()
    held = [e for e in entries if e.status == "accrued"]
    if held:
        until = max(e.payable_at for e in held).isoformat()
        raise Conflict(f"{len(held)} entries are in their holding period (until {until})")
    await repository.add_transitions(
        session,
        [_transition(e, "approved", None, actor, now) for e in entries if e.status == "payable"],
    )
    if status == "approved":
        return
    await repository.add_statement_transition(
        session,
        {
            "partner_id": partner_id,
            "period": period,
            "status": "approved",
            "actor": actor,
            "at": now,
        },
    )


async def pay_statement(
    session: AsyncSession,
    partner_id: str,
    period: str,
    *,
    reference: str,
    actor: str,
    now: datetime,
) -> None:
    """Mark an approved statement paid with the payout's reference; the same reference again
    is a no-op, a different one for a paid statement (or a reference already used) a 409."""
    await repository.lock(
        session, [repository.statement_lock(partner_id, period), f"payout:{reference}"]
    )
    history = await queries.statement_history(session, partner_id, period)
    paid = [h for h in history if h.status == "paid"]
    if paid:
        if paid[0].payout_reference == reference:
            return
        raise Conflict(f"statement {period} was paid with another reference")
    used = await session.scalar(
        text("SELECT count(*) FROM statement_transitions WHERE payout_reference = :r"),
        {"r": reference},
    )
    if used:
        raise Conflict("this payout reference already paid another statement")
    if not history or history[-1].status != "approved":
        raise Conflict(f"statement {period} is not approved")
    entries = await _entries_of(session, partner_id, period, now)
    unapproved = [e for e in entries if e.status in ("accrued", "payable")]
    if unapproved:  # arrived after the approval: paying now would pay them and leave them open
        raise Conflict(
            f"{len(unapproved)} entries of {period} arrived after its approval: "
            "approve the statement again before paying it"
        )
    sums = await queries.period_sums(session, partner_id, until=period)
    lines = statements(partner_id, sums, await queries.payouts(session, partner_id), only=period)
    payout = {  # the statement's due as shown (minor unit), never below zero
        line.currency: money(max(Decimal(line.due), Decimal(0)), line.currency)
        for _, ls in lines
        for line in ls
    }
    await repository.add_transitions(
        session,
        [_transition(e, "paid", reference, actor, now) for e in entries if e.status == "approved"],
    )
    await repository.add_statement_transition(
        session,
        {
            "partner_id": partner_id,
            "period": period,
            "status": "paid",
            "payout_reference": reference,
            "payout": payout,
            "actor": actor,
            "at": now,
        },
    )
