"""Rows → API shapes, with no I/O. Amounts are shown at their currency's minor unit (exact:
every stored amount was rounded to it once, and sums of one currency stay on it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from fourfold.incentives.domain.money import round_money
from fourfold.incentives.domain.statements import statement_lines
from fourfold.incentives.schemas import (
    Dispute,
    DisputeMessage,
    LedgerEntry,
    RuleTotal,
    Statement,
    StatementLine,
    Transition,
)

ZERO = Decimal(0)


def money(amount: Any, currency: str) -> Decimal:
    return round_money(Decimal(amount if amount is not None else 0), currency)


def ledger_entry(row: Any, history: Sequence[Any] | None = None) -> LedgerEntry:
    m = row._mapping
    return LedgerEntry(
        entry_id=m["entry_id"],
        partner_id=m["partner_id"],
        customer_id=m["customer_id"],
        rule=m["rule"],
        kind=m["kind"],
        amount=money(m["amount"], m["currency"]),
        currency=m["currency"],
        period=m["period"],
        event_time=m["event_time"],
        payable_at=m["payable_at"],
        status=m["status"],
        source_event_id=m["source_event_id"],
        program_id=m["program_id"],
        program_version=m["program_version"],
        reverses_entry_id=m["reverses_entry_id"],
        inputs=m["inputs"],
        created_at=m["created_at"],
        history=None if history is None else [transition(t) for t in history],
    )


def transition(row: Any) -> Transition:
    m = row._mapping
    return Transition(
        status=m["status"],
        reason=m.get("reason") or m.get("payout_reference"),
        actor=m["actor"],
        at=m["at"],
    )


def paid_by_period(payouts: Iterable[Any]) -> dict[str, dict[str, Decimal]]:
    return {row.period: {c: Decimal(a) for c, a in (row.payout or {}).items()} for row in payouts}


def statements(
    partner_id: str,
    sums: Sequence[Any],
    payouts: Sequence[Any],
    *,
    only: str | None = None,
) -> list[tuple[str, list[StatementLine]]]:
    """Every period's lines (or only `only`'s), folding the per-period sums in order."""
    paid = paid_by_period(payouts)
    periods = sorted({row.period for row in sums} | set(paid) | ({only} if only else set()))
    before: dict[str, Decimal] = {}
    paid_before: dict[str, Decimal] = {}
    out = []
    for period in periods:
        earned: dict[str, Decimal] = {}
        reversed_: dict[str, Decimal] = {}
        for r in sums:
            if r.period == period:
                earned[r.currency] = earned.get(r.currency, ZERO) + Decimal(r.earned)
                reversed_[r.currency] = reversed_.get(r.currency, ZERO) + Decimal(r.reversed)
        lines = statement_lines(
            before=before, earned=earned, reversed_=reversed_, paid_before=paid_before
        )
        if only is None or period == only:
            out.append(
                (
                    period,
                    [
                        StatementLine(
                            currency=line.currency,
                            opening=money(line.opening, line.currency),
                            earned=money(line.earned, line.currency),
                            reversed=money(line.reversed, line.currency),
                            closing=money(line.closing, line.currency),
                            paid_before=money(line.paid_before, line.currency),
                            due=money(line.due, line.currency),
                            paid=None
                            if period not in paid
                            else money(paid[period].get(line.currency, ZERO), line.currency),
                        )
                        for line in lines
                    ],
                )
            )
        for line in lines:
            before[line.currency] = line.closing
        for currency, amount in paid.get(period, {}).items():
            paid_before[currency] = paid_before.get(currency, ZERO) + amount
    return out


def statement(
    partner_id: str,
    period: str,
    lines: list[StatementLine],
    *,
    history: Sequence[Any],
    rules: Sequence[Any],
    entries: int,
) -> Statement:
    status = "open"
    reference = None
    for row in history:
        status = row.status
        reference = row.payout_reference or reference
    return Statement(
        partner_id=partner_id,
        period=period,
        status=status,
        payout_reference=reference,
        currencies=lines,
        rules=[
            RuleTotal(
                rule=r.rule,
                currency=r.currency,
                entries=r.entries,
                amount=money(Decimal(r.earned) + Decimal(r.reversed), r.currency),
            )
            for r in rules
        ],
        entries=entries,
        entries_url=f"/v1/incentives/partners/{partner_id}/entries?period={period}",
        history=[transition(t) for t in history],
    )


def disputes(rows: Sequence[Any]) -> list[Dispute]:
    """Rows of disputes joined with their messages → one Dispute per id, thread in order."""
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.dispute_id, []).append(row)
    out = []
    for messages in grouped.values():
        first = messages[0]
        status = "open"
        for m in messages:
            if m.kind in ("accepted", "rejected"):
                status = m.kind
        out.append(
            Dispute(
                dispute_id=first.dispute_id,
                partner_id=first.partner_id,
                entry_id=first.entry_id,
                status=status,
                opened_by=first.opened_by,
                opened_at=first.opened_at,
                thread=[
                    DisputeMessage(
                        kind=m.kind,
                        author=m.author,
                        author_role=m.author_role,
                        text=m.text,
                        adjustment_entry_id=m.adjustment_entry_id,
                        at=m.at,
                    )
                    for m in messages
                ],
            )
        )
    return out


CSV_COLUMNS = (
    "entry_id",
    "event_time",
    "customer_id",
    "rule",
    "kind",
    "amount",
    "currency",
    "status",
    "program_version",
    "reverses_entry_id",
    "source_event_id",
)


def csv_row(row: Mapping[str, Any]) -> list[str]:
    values = dict(row)
    values["amount"] = str(money(values["amount"], values["currency"]))
    values["event_time"] = values["event_time"].isoformat()
    return ["" if values.get(c) is None else str(values[c]) for c in CSV_COLUMNS]
