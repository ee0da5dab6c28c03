"""Routes. Partner routes live under /v1/incentives/partners/{partner_id}/…: a partner
token sees its own partner only, and another partner's (or a missing) resource answers 404
alike. Admin routes live under /v1/admin/incentives/… and need the admin role. (Prefixes of
their own, so the gateway routes them by prefix beside health-scoring's /v1/partners.)"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.auth import Principal, partner_scope, require_roles
from fourfold.errors import PayloadTooLarge
from fourfold.events import PartnerTierChanged, PartnerTierChangedData
from fourfold.events.bounds import MAX_ID_LENGTH
from fourfold.incentives import approvals, disputes, queries, repository
from fourfold.incentives.domain.accrual import order_key
from fourfold.incentives.domain.program import (
    Accelerators,
    Program,
    ProgramError,
    ProgramSet,
    parse_program,
)
from fourfold.incentives.domain.state import PartnerState, fold_partner
from fourfold.incentives.errors import (
    Conflict,
    DisputeNotFound,
    EntryNotFound,
    InvalidField,
    InvalidProgram,
    ProgramNotFound,
    StatementNotFound,
)
from fourfold.incentives.ledger import SOURCE
from fourfold.incentives.programs import Programs, program_row
from fourfold.incentives.recalculation import adjustment_view, recalculate, what_if
from fourfold.incentives.schemas import (
    AcceptIn,
    Balance,
    BalanceLine,
    CommentIn,
    Dispute,
    DisputeIn,
    DisputeList,
    EntryPage,
    EntryStatus,
    LedgerEntry,
    PartnerTier,
    PayIn,
    Period,
    ProgramDetail,
    ProgramList,
    ProgramVersion,
    RangeIn,
    Recalculation,
    RejectIn,
    Statement,
    StatementList,
    TierChange,
    TierIn,
    TierOut,
    Validation,
    WhatIf,
)
from fourfold.incentives.views import (
    CSV_COLUMNS,
    csv_row,
    ledger_entry,
    money,
    paid_by_period,
    statement,
    statements,
)
from fourfold.incentives.views import disputes as dispute_views
from fourfold.kafka.outbox import stage
from fourfold.service.openapi import error_responses, request_body
from fourfold.service.sessions import ReadSession, WriteSession

router = APIRouter(prefix="/v1")

Reader = Annotated[Principal, Depends(require_roles("partner", "admin"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
PartnerPeriod = Annotated[Period, "YYYY-MM"]


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def _programs(request: Request) -> Programs:
    programs: Programs = request.app.state.programs
    return programs


def _scope(principal: Principal, partner_id: str) -> None:
    partner_scope(principal, partner_id, resource="partner")


_PARTNER_404 = "Not found: no such resource, or another partner's (answered alike)"
_CURSOR_400 = "`invalid_cursor`: not a cursor this listing returned"
_NO_ROUTE_404 = "Not found: no route for an empty or malformed path parameter"
_INVALID_PROGRAM_422 = (
    "`invalid_program`: each problem names the field and its YAML line; "
    "`validation_failed` for anything else"
)
_PROGRAM_413 = "The program is over `FOURFOLD_INCENTIVES_MAX_PROGRAM_BYTES`"
_RANGE_422 = "Validation failed: a field, or `from` not before `to`, or a range too long"

_SAID = {400: _CURSOR_400, 404: _PARTNER_404}
_PARTNER = error_responses(404, descriptions=_SAID)


# ---------------------------------------------------------------- partner: the ledger


@router.get(
    "/incentives/partners/{partner_id}/entries",
    tags=["ledger"],
    responses=error_responses(400, 404, descriptions=_SAID),
)
async def list_entries(
    partner_id: str,
    principal: Reader,
    session: ReadSession,
    request: Request,
    period: Period | None = None,
    rule: str | None = None,
    customer_id: str | None = None,
    status: EntryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(min_length=1)] = None,
) -> EntryPage:
    """A partner's ledger entries in ledger order: filter by period, rule, customer, status."""
    _scope(principal, partner_id)
    rows, next_cursor = await queries.entries_page(
        session,
        partner_id=partner_id,
        now=_now(request),
        limit=limit,
        cursor=cursor,
        period=period,
        rule=rule,
        customer_id=customer_id,
        status=status,
    )
    return EntryPage(
        partner_id=partner_id, items=[ledger_entry(r) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/incentives/partners/{partner_id}/entries/{entry_id}", tags=["ledger"], responses=_PARTNER
)
async def get_entry(
    partner_id: str, entry_id: str, principal: Reader, session: ReadSession, request: Request
) -> LedgerEntry:
    """One entry, with the inputs that produced it and its status history (reasons included)."""
    _scope(principal, partner_id)
    row = await queries.entry(session, entry_id, _now(request))
    if row is None or row.partner_id != partner_id:
        raise EntryNotFound()
    return ledger_entry(row, await queries.entry_history(session, entry_id))


@router.get("/incentives/partners/{partner_id}/balance", tags=["ledger"], responses=_PARTNER)
async def get_balance(
    partner_id: str, principal: Reader, session: ReadSession, request: Request
) -> Balance:
    """What the partner earned, was paid, is owed, per currency (derived from the entries)."""
    _scope(principal, partner_id)
    now = _now(request)
    rows = await queries.balance(session, partner_id, now)
    paid: dict[str, Decimal] = {}
    for amounts in paid_by_period(await queries.payouts(session, partner_id)).values():
        for currency, amount in amounts.items():
            paid[currency] = paid.get(currency, Decimal(0)) + amount
    lines = []
    for row in rows:
        c = row.currency
        paid_out = paid.get(c, Decimal(0))
        lines.append(
            BalanceLine(
                currency=c,
                total=money(row.total, c),
                paid=money(paid_out, c),
                due=money(Decimal(row.total) - paid_out, c),
                held=money(row.held, c),
                payable=money(row.payable, c),
            )
        )
    return Balance(partner_id=partner_id, at=now, currencies=lines)


@router.get("/incentives/partners/{partner_id}/tier", tags=["ledger"], responses=_PARTNER)
async def get_tier(
    partner_id: str, principal: Reader, session: ReadSession, request: Request
) -> PartnerTier:
    """The tier and certifications in force now (what the accelerators multiply by), and
    every tier change an admin made."""
    _scope(principal, partner_id)
    now = _now(request)
    state = PartnerState(partner_id)
    events = sorted(await repository.partner_events(session, partner_id), key=order_key)
    for event in events:
        fold_partner(state, event)
    program = (await _programs(request).current(session)).for_time(now)
    default = (program.accelerators if program else Accelerators()).default_tier
    changes = [
        TierChange(
            tier=e.data.tier,
            effective_at=e.data.effective_at,
            event_id=e.id,
            reason=e.data.reason,
        )
        for e in events
        if isinstance(e, PartnerTierChanged)
    ]
    return PartnerTier(
        partner_id=partner_id,
        tier=state.tier_at(now) or default,
        certifications=state.certifications_at(now),
        changes=changes,
    )


# ---------------------------------------------------------------- partner: statements


async def _statement(session: AsyncSession, partner_id: str, period: str) -> Statement:
    sums = await queries.period_sums(session, partner_id, until=period)
    history = await queries.statement_history(session, partner_id, period)
    rules = [row for row in sums if row.period == period]
    if not rules and not history:
        raise StatementNotFound()
    payouts = await queries.payouts(session, partner_id)
    ((_, lines),) = statements(partner_id, sums, payouts, only=period)
    count = sum(row.entries for row in rules)
    return statement(partner_id, period, lines, history=history, rules=rules, entries=count)


@router.get("/incentives/partners/{partner_id}/statements", tags=["statements"], responses=_PARTNER)
async def list_statements(
    partner_id: str, principal: Reader, session: ReadSession
) -> StatementList:
    """Every period with entries: opening, earned, reversed, closing and due per currency."""
    _scope(principal, partner_id)
    sums = await queries.period_sums(session, partner_id)
    periods = sorted({row.period for row in sums})
    return StatementList(
        partner_id=partner_id, items=[await _statement(session, partner_id, p) for p in periods]
    )


@router.get(
    "/incentives/partners/{partner_id}/statements/{period}.csv",
    tags=["statements"],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The statement's entries, one CSV row each, with a header row",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **_PARTNER,
    },
)
async def get_statement_csv(
    partner_id: str, period: Period, principal: Reader, session: ReadSession, request: Request
) -> StreamingResponse:
    """One statement's entries as CSV (one row per entry, amounts at the currency's unit)."""
    _scope(principal, partner_id)
    await _statement(session, partner_id, period)  # 404 when there is none
    result = await queries.statement_entries(session, partner_id, period, _now(request))

    async def lines() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        async for row in result:
            writer.writerow(csv_row(row._mapping))
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    filename = f"statement-{partner_id}-{period}.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/incentives/partners/{partner_id}/statements/{period}", tags=["statements"], responses=_PARTNER
)
async def get_statement(
    partner_id: str, period: Period, principal: Reader, session: ReadSession
) -> Statement:
    """One statement as JSON: per currency and per rule; its entries at `entries_url`."""
    _scope(principal, partner_id)
    return await _statement(session, partner_id, period)


# ---------------------------------------------------------------- partner: disputes


@router.get("/incentives/partners/{partner_id}/disputes", tags=["disputes"], responses=_PARTNER)
async def list_disputes(partner_id: str, principal: Reader, session: ReadSession) -> DisputeList:
    """The partner's disputes, each with its whole thread."""
    _scope(principal, partner_id)
    rows = await queries.disputes(session, partner_id)
    return DisputeList(partner_id=partner_id, items=dispute_views(rows))


async def _dispute(session: AsyncSession, partner_id: str, dispute_id: str) -> Dispute:
    found = dispute_views(await queries.disputes(session, partner_id, dispute_id))
    if not found:
        raise DisputeNotFound()
    return found[0]


@router.post(
    "/incentives/partners/{partner_id}/disputes",
    status_code=201,
    tags=["disputes"],
    responses=error_responses(
        404, descriptions={404: "Not found: the partner or the entry (another partner's alike)"}
    ),
)
async def open_dispute(
    partner_id: str, body: DisputeIn, principal: Reader, session: WriteSession, request: Request
) -> Dispute:
    """Dispute one of the partner's entries with a comment."""
    _scope(principal, partner_id)
    dispute_id = await disputes.open_dispute(
        session,
        partner_id=partner_id,
        entry_id=body.entry_id,
        comment=body.comment,
        by=principal,
        now=_now(request),
    )
    return await _dispute(session, partner_id, dispute_id)


@router.get(
    "/incentives/partners/{partner_id}/disputes/{dispute_id}", tags=["disputes"], responses=_PARTNER
)
async def get_dispute(
    partner_id: str, dispute_id: str, principal: Reader, session: ReadSession
) -> Dispute:
    """One dispute and its thread (the partner's and the admins' messages)."""
    _scope(principal, partner_id)
    return await _dispute(session, partner_id, dispute_id)


@router.post(
    "/incentives/partners/{partner_id}/disputes/{dispute_id}/comments",
    tags=["disputes"],
    responses=_PARTNER,
)
async def comment_dispute(
    partner_id: str,
    dispute_id: str,
    body: CommentIn,
    principal: Reader,
    session: WriteSession,
    request: Request,
) -> Dispute:
    """Add a message to a dispute's thread (partner or admin)."""
    _scope(principal, partner_id)
    await disputes.comment(
        session,
        dispute_id=dispute_id,
        partner_id=partner_id,
        body=body.comment,
        by=principal,
        now=_now(request),
    )
    return await _dispute(session, partner_id, dispute_id)


# ---------------------------------------------------------------- admin: programs


def _version_view(row: object, today: date) -> ProgramVersion:
    m = row._mapping  # type: ignore[attr-defined]
    in_force = m["activated_at"] is not None and m["effective_from"] <= today
    if m["effective_to"] is not None:
        in_force = in_force and today < m["effective_to"]
    return ProgramVersion(
        version=m["version"],
        program_id=m["program_id"],
        effective_from=m["effective_from"].isoformat(),
        effective_to=None if m["effective_to"] is None else m["effective_to"].isoformat(),
        uploaded_by=m["uploaded_by"],
        uploaded_at=m["uploaded_at"],
        activated_at=m["activated_at"],
        in_force=in_force,
    )


@router.get("/admin/incentives/programs", tags=["admin: programs"])
async def list_programs(principal: Admin, session: ReadSession, request: Request) -> ProgramList:
    """Every program version uploaded, activated or not, and which are in force today."""
    today = _now(request).astimezone(UTC).date()
    return ProgramList(items=[_version_view(r, today) for r in await queries.programs(session)])


@router.get(
    "/admin/incentives/programs/active",
    tags=["admin: programs"],
    responses=error_responses(404, descriptions={404: "No program version is in force now"}),
)
async def active_program(principal: Admin, session: ReadSession, request: Request) -> ProgramDetail:
    """The version in force now (the one today's events accrue under)."""
    programs = await _programs(request).current(session)
    program = programs.for_time(_now(request))
    if program is None:
        raise ProgramNotFound()
    return await _program_detail(session, program.version, request)


async def _program_detail(session: AsyncSession, version: str, request: Request) -> ProgramDetail:
    rows = await queries.programs(session, version)
    if not rows:
        raise ProgramNotFound()
    row = rows[0]
    view = _version_view(row, _now(request).astimezone(UTC).date())
    program = _programs(request).parse(row.version, row.source)
    return ProgramDetail(
        **view.model_dump(), source=row.source, program=program.model_dump(mode="json")
    )


@router.get(
    "/admin/incentives/programs/{version}",
    tags=["admin: programs"],
    responses=error_responses(404, descriptions={404: "No such program version"}),
)
async def get_program(
    version: str, principal: Admin, session: ReadSession, request: Request
) -> ProgramDetail:
    """One version: its YAML and the program it validates to."""
    return await _program_detail(session, version, request)


async def _yaml_body(request: Request) -> str:
    """The program YAML of the request body (read after auth), within the size limit."""
    limit = request.app.state.settings.incentives_max_program_bytes
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"a program is at most {limit} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidProgram(
            [{"loc": [], "line": None, "msg": "not UTF-8 text", "type": "encoding"}]
        ) from None
    if "\x00" in text:
        raise InvalidProgram([{"loc": [], "line": None, "msg": "contains NUL", "type": "nul"}])
    return text


def _parse(text: str) -> Program:
    try:
        return parse_program(text)
    except ProgramError as exc:
        raise InvalidProgram(exc.problems) from None


_YAML_BODY = request_body(
    {"application/yaml": str}, description="The program YAML (see docs/incentive-programs.md)."
)


@router.post(
    "/admin/incentives/programs/validate",
    tags=["admin: programs"],
    openapi_extra=_YAML_BODY,
    responses=error_responses(
        413, 422, descriptions={413: _PROGRAM_413, 422: "The body is not UTF-8 text"}
    ),
)
async def validate_program(principal: Admin, request: Request) -> Validation:
    """Check a program YAML without storing it: each problem names the field and its line."""
    text = await _yaml_body(request)
    try:
        program = parse_program(text)
    except ProgramError as exc:
        return Validation(valid=False, problems=exc.problems)
    return Validation(valid=True, version=program.version)


@router.post(
    "/admin/incentives/programs",
    status_code=201,
    tags=["admin: programs"],
    openapi_extra=_YAML_BODY,
    responses=error_responses(
        409,
        413,
        422,
        descriptions={
            409: "That program version is stored already: give a new version",
            413: _PROGRAM_413,
            422: _INVALID_PROGRAM_422,
        },
    ),
)
async def upload_program(
    principal: Admin, session: WriteSession, request: Request
) -> ProgramDetail:
    """Store a new program version (not activated: what-if can try it first)."""
    text = await _yaml_body(request)
    program = _parse(text)
    row = program_row(program, text, by=principal.subject, at=_now(request), activate=False)
    if not await repository.add_program(session, row):
        raise Conflict(f"program version {program.version!r} exists: give a new version")
    return await _program_detail(session, program.version, request)


@router.post(
    "/admin/incentives/programs/{version}/activate",
    tags=["admin: programs"],
    responses=error_responses(404, descriptions={404: "No such program version"}),
)
async def activate_program(
    version: str, principal: Admin, session: WriteSession, request: Request
) -> ProgramDetail:
    """Put a version in force for events whose event time falls in its effective range."""
    if await repository.program_row(session, version) is None:
        raise ProgramNotFound()
    await repository.activate_program(session, version, _now(request))
    _programs(request).invalidate()
    return await _program_detail(session, version, request)


# ---------------------------------------------------------------- admin: tiers


@router.put(
    "/admin/incentives/partners/{partner_id}/tier",
    tags=["admin: partners"],
    responses=error_responses(404, descriptions={404: _NO_ROUTE_404}),
)
async def set_tier(
    partner_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
    body: TierIn,
    principal: Admin,
    session: WriteSession,
    request: Request,
) -> TierOut:
    """Set a partner's tier from `effective_at` (default now): emits `partner.tier_changed`
    and applies to the events accrued from then on. The tier must be one of the program
    version in force at `effective_at` (a tier it does not name would multiply by 1.0)."""
    now = _now(request)
    effective = body.effective_at or now
    program = (await _programs(request).current(session)).for_time(effective)
    known = program.accelerators.tiers if program is not None else {}
    if known and body.tier not in known:
        raise InvalidField(
            "body",
            "tier",
            f"not a tier of program {program.version if program else ''} (in force at "
            f"effective_at): one of {', '.join(sorted(known))}",
        )
    event = PartnerTierChanged(
        id=str(uuid.uuid4()),
        source=SOURCE,
        type="partner.tier_changed",
        time=now,
        data=PartnerTierChangedData(
            partner_id=partner_id, tier=body.tier, effective_at=effective, reason=body.reason
        ),
    )
    await repository.store_events(session, [event])
    await stage(session, request.app.state.outbox, [event])
    return TierOut(partner_id=partner_id, tier=body.tier, effective_at=effective, event_id=event.id)


# ---------------------------------------------------------------- admin: approvals, payouts

_ENTRY_DECISION = error_responses(
    404,
    409,
    descriptions={
        404: "No such entry",
        409: "Not allowed in the entry's state (held, rejected, paid) or its statement is paid",
    },
)


@router.post(
    "/admin/incentives/entries/{entry_id}/approve",
    status_code=204,
    tags=["admin: ledger"],
    responses=_ENTRY_DECISION,
)
async def approve_entry(
    entry_id: str, principal: Admin, session: WriteSession, request: Request
) -> Response:
    """Approve one entry past its holding period."""
    await approvals.approve_entry(session, entry_id, actor=principal.subject, now=_now(request))
    return Response(status_code=204)


@router.post(
    "/admin/incentives/entries/{entry_id}/reject",
    status_code=204,
    tags=["admin: ledger"],
    responses=_ENTRY_DECISION,
)
async def reject_entry(
    entry_id: str, body: RejectIn, principal: Admin, session: WriteSession, request: Request
) -> Response:
    """Reject an entry with a reason the partner sees."""
    await approvals.reject_entry(
        session, entry_id, reason=body.reason, actor=principal.subject, now=_now(request)
    )
    return Response(status_code=204)


@router.post(
    "/admin/incentives/partners/{partner_id}/statements/{period}/approve",
    tags=["admin: ledger"],
    responses=error_responses(
        404,
        409,
        descriptions={
            404: "The partner has no entries in that period",
            409: "The period is not over, an entry is still held, or the statement is paid",
        },
    ),
)
async def approve_statement(
    partner_id: str, period: Period, principal: Admin, session: WriteSession, request: Request
) -> Statement:
    """Approve a past period's statement and its entries (none may still be held)."""
    await approvals.approve_statement(
        session, partner_id, period, actor=principal.subject, now=_now(request)
    )
    return await _statement(session, partner_id, period)


@router.post(
    "/admin/incentives/partners/{partner_id}/statements/{period}/pay",
    tags=["admin: ledger"],
    responses=error_responses(
        404,
        409,
        descriptions={
            404: "No statement for that partner and period",
            409: "Not approved, paid with another reference, or the reference paid another",
        },
    ),
)
async def pay_statement(
    partner_id: str,
    period: Period,
    body: PayIn,
    principal: Admin,
    session: WriteSession,
    request: Request,
) -> Statement:
    """Mark an approved statement paid with the payout's reference (idempotent on it); the
    statement is frozen from then on."""
    await approvals.pay_statement(
        session,
        partner_id,
        period,
        reference=body.payout_reference,
        actor=principal.subject,
        now=_now(request),
    )
    return await _statement(session, partner_id, period)


# ---------------------------------------------------------------- admin: disputes


@router.get("/admin/incentives/disputes", tags=["admin: disputes"])
async def all_disputes(principal: Admin, session: ReadSession) -> list[Dispute]:
    """Every dispute of every partner, with its thread."""
    return dispute_views(await queries.disputes(session, None))


@router.post(
    "/admin/incentives/disputes/{dispute_id}/accept",
    tags=["admin: disputes"],
    responses=error_responses(
        404,
        409,
        422,
        descriptions={
            404: "No such dispute",
            409: "The dispute is settled already",
            422: "Validation failed: a field, or an amount of zero or finer than the minor unit",
        },
    ),
)
async def accept_dispute(
    dispute_id: str, body: AcceptIn, principal: Admin, session: WriteSession, request: Request
) -> Dispute:
    """Accept a dispute: an adjustment entry of `amount` in the open period."""
    events = await disputes.accept(
        session,
        dispute_id=dispute_id,
        amount=body.amount,
        body=body.comment,
        by=principal,
        now=_now(request),
    )
    await stage(session, request.app.state.outbox, events)
    rows = await queries.disputes(session, None, dispute_id)
    return await _dispute(session, rows[0].partner_id, dispute_id)


@router.post(
    "/admin/incentives/disputes/{dispute_id}/reject",
    tags=["admin: disputes"],
    responses=error_responses(
        404, 409, descriptions={404: "No such dispute", 409: "The dispute is settled already"}
    ),
)
async def reject_dispute(
    dispute_id: str, body: RejectIn, principal: Admin, session: WriteSession, request: Request
) -> Dispute:
    """Reject a dispute with a reason the partner sees."""
    await disputes.reject(
        session, dispute_id=dispute_id, reason=body.reason, by=principal, now=_now(request)
    )
    rows = await queries.disputes(session, None, dispute_id)
    return await _dispute(session, rows[0].partner_id, dispute_id)


# ---------------------------------------------------------------- admin: recalculation


async def _range(
    session: AsyncSession, body: RangeIn, request: Request
) -> tuple[ProgramSet, Program, datetime, datetime]:
    start, end = body.from_.astimezone(UTC), body.to.astimezone(UTC)
    if start >= end:
        raise InvalidField("body", "from", "must be before 'to'")
    longest = request.app.state.settings.incentives_max_range_days
    if end - start > timedelta(days=longest):
        raise InvalidField("body", "to", f"the range may cover at most {longest} days")
    registry = _programs(request)
    program = await registry.get(session, body.program_version)
    if program is None:
        raise ProgramNotFound()
    return await registry.current(session), program, start, end


@router.post(
    "/admin/incentives/recalculations",
    tags=["admin: recalculation"],
    responses=error_responses(
        404, 422, descriptions={404: "No such program version", 422: _RANGE_422}
    ),
)
async def run_recalculation(
    body: RangeIn, principal: Admin, session: WriteSession, request: Request
) -> Recalculation:
    """Re-run [from, to) under a program version: differences become adjustments in the
    current open period, each referencing the entry it adjusts; running it again adds none."""
    programs, program, start, end = await _range(session, body, request)
    run_id, period, written, events = await recalculate(
        session,
        programs=programs,
        program=program,
        start=start,
        end=end,
        by=principal.subject,
        now=_now(request),
    )
    await stage(session, request.app.state.outbox, events)
    return Recalculation(
        run_id=run_id,
        program_version=program.version,
        from_=start,
        to=end,
        period=period,
        adjustments=[adjustment_view(e) for e in written],
    )


@router.post(
    "/admin/incentives/what-if",
    tags=["admin: recalculation"],
    responses=error_responses(
        404, 422, descriptions={404: "No such program version", 422: _RANGE_422}
    ),
)
async def run_what_if(
    body: RangeIn, principal: Admin, session: ReadSession, request: Request
) -> WhatIf:
    """What a program version (uploaded, activated or not) would have paid over [from, to),
    per partner and rule, beside what the ledger holds. Writes nothing."""
    programs, program, start, end = await _range(session, body, request)
    rows, events = await what_if(session, programs=programs, program=program, start=start, end=end)
    return WhatIf(program_version=program.version, from_=start, to=end, events=events, rows=rows)
