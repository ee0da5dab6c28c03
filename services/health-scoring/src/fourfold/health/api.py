"""Routes: a customer's health and history, a partner's book and summary, admin overrides
and the active scorecard. Partner tokens see their own partner's customers only; another
partner's customer answers exactly like a missing one (404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.auth import Principal, partner_scope, require_roles
from fourfold.errors import NotFound
from fourfold.events import Band, LifecycleStep
from fourfold.health import queries, repository
from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import Band as DomainBand
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.errors import CustomerNotFound, InvalidField
from fourfold.health.evaluation import as_read
from fourfold.health.rescoring import changed_events, rescore
from fourfold.health.schemas import (
    ActiveScorecard,
    BookPage,
    CustomerHealth,
    History,
    OverrideIn,
    PartnerSummary,
    SortKey,
    SortOrder,
)
from fourfold.health.views import book_entry, customer_health, history_point, partner_summary
from fourfold.kafka.outbox import stage
from fourfold.service.openapi import error_responses
from fourfold.service.sessions import ReadSession, WriteSession

router = APIRouter(prefix="/v1")

Reader = Annotated[Principal, Depends(require_roles("partner", "admin"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]


def _scorecard(request: Request) -> Scorecard:
    scorecard: Scorecard = request.app.state.scorecard
    return scorecard


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


async def _visible_customer(session: AsyncSession, principal: Principal, customer_id: str) -> Any:
    """The customer's row if this caller may see it; else 404 alike for missing and hidden."""
    row = await queries.customer_row(session, customer_id)
    if row is None:
        raise CustomerNotFound()
    partner_scope(principal, row.partner_id or "", resource="customer")
    return row


@router.get("/customers/{customer_id}/health", tags=["health"], responses=error_responses(404))
async def get_health(
    customer_id: str, principal: Reader, session: ReadSession, request: Request
) -> CustomerHealth:
    """A customer's current score, band, lifecycle step and why (each component's part)."""
    row = await _visible_customer(session, principal, customer_id)
    return customer_health(row._mapping, _scorecard(request))


def _utc(value: datetime | None, name: str) -> datetime | None:
    """A query instant in UTC; naive or out of range (after the shift to UTC) names the field."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidField("query", name, "must carry a timezone (e.g. Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidField("query", name, "out of range") from None


@router.get(
    "/customers/{customer_id}/health/history", tags=["health"], responses=error_responses(404)
)
async def get_history(
    customer_id: str,
    principal: Reader,
    session: ReadSession,
    request: Request,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> History:
    """How a customer's score moved between `from` and `to` (default: the last 90 days)."""
    await _visible_customer(session, principal, customer_id)
    start, end = _utc(start, "from"), _utc(end, "to")
    if end is None:
        end = _now(request)
    if start is None:
        try:
            start = end - timedelta(days=request.app.state.settings.health_history_default_days)
        except OverflowError:
            raise InvalidField("query", "to", "too early to look back from; give 'from'") from None
    if start > end:
        raise InvalidField("query", "from", "must not be after 'to'")
    points = await queries.history_points(session, customer_id, start, end)
    return History(
        customer_id=customer_id,
        from_=start,
        to=end,
        points=[history_point(p._mapping) for p in points],
    )


@router.get(
    "/partners/{partner_id}/customers",
    tags=["book of business"],
    responses=error_responses(
        400, 404, descriptions={400: "`invalid_cursor`: not a cursor this listing returned"}
    ),
)
async def get_book(
    partner_id: str,
    principal: Reader,
    session: ReadSession,
    band: Band | None = None,
    step: LifecycleStep | None = None,
    sort: SortKey = SortKey.SCORE,
    order: SortOrder = SortOrder.ASC,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(min_length=1)] = None,
) -> BookPage:
    """A partner's book of business: filter by band and step, sort by score, ARR or trend.

    Default order: score ascending (lowest first; customers without a score before all
    scored ones), ties by customer id. ARR sorts by currency, then amount."""
    partner_scope(principal, partner_id, resource="partner")
    rows, next_cursor = await queries.book_page(
        session,
        partner_id=partner_id,
        band=None if band is None else band.value,
        step=None if step is None else step.value,
        sort=sort,
        order=order,
        limit=limit,
        cursor=cursor,
    )
    return BookPage(
        partner_id=partner_id,
        items=[book_entry(r._mapping) for r in rows],
        next_cursor=next_cursor,
    )


@router.get(
    "/partners/{partner_id}/summary", tags=["book of business"], responses=error_responses(404)
)
async def get_summary(partner_id: str, principal: Reader, session: ReadSession) -> PartnerSummary:
    """A partner's customers and ARR per band and step, and its ARR-weighted average score."""
    partner_scope(principal, partner_id, resource="partner")
    groups = await queries.summary_groups(session, partner_id)
    return partner_summary(partner_id, [g._mapping for g in groups])


@router.put("/admin/health/{customer_id}/override", tags=["admin"], responses=error_responses(404))
async def put_override(
    customer_id: str, body: OverrideIn, principal: Admin, session: WriteSession, request: Request
) -> CustomerHealth:
    """Place a person's score and/or band over the computed one until it expires."""
    if body.score is None and body.band is None:
        raise InvalidField("body", "score", "set a score, a band, or both")
    if not body.reason.strip():
        raise InvalidField("body", "reason", "must not be blank")
    now = _now(request)
    if body.expires_at <= now:
        raise InvalidField("body", "expires_at", "must be in the future")
    override = ManualOverride(
        reason=body.reason,
        set_at=now,
        expires_at=body.expires_at,
        score=body.score,
        band=None if body.band is None else DomainBand(body.band),
        set_by=principal.subject,
    )
    stored = await repository.lock_customers(session, [customer_id])
    if customer_id not in stored:
        raise CustomerNotFound()
    await repository.put_override(session, customer_id, override)
    evaluation = await _rescore(session, stored, request, now)
    return customer_health(evaluation, _scorecard(request))


@router.delete(
    "/admin/health/{customer_id}/override",
    status_code=204,
    tags=["admin"],
    responses=error_responses(404),
)
async def delete_override(
    customer_id: str, principal: Admin, session: WriteSession, request: Request
) -> Response:
    """Remove a customer's override; the computed score shows again at once."""
    stored = await repository.lock_customers(session, [customer_id])
    if customer_id not in stored:
        raise CustomerNotFound()
    if not await repository.remove_override(session, customer_id):
        raise NotFound("override not found")
    await _rescore(session, stored, request, _now(request))
    return Response(status_code=204)


@router.get("/admin/scorecard", tags=["admin"])
async def get_scorecard(principal: Admin, request: Request) -> ActiveScorecard:
    """The scorecard in force: components, weights, bands and lifecycle rules."""
    scorecard = _scorecard(request)
    path = request.app.state.settings.health_scorecard_path
    return ActiveScorecard(
        version=scorecard.version,
        source=str(path) if path else "default",
        scorecard=scorecard.model_dump(mode="json"),
    )


async def _rescore(
    session: AsyncSession,
    stored: dict[str, repository.Stored],
    request: Request,
    now: datetime,
) -> dict[str, Any]:
    evaluations = await rescore(
        session,
        {k: (state, previous) for k, (state, previous) in stored.items()},
        scorecard=_scorecard(request),
        now=now,
        cause="override",
        force_history=True,
    )
    await stage(session, request.app.state.outbox, changed_events(evaluations))
    return as_read(evaluations[0].row)
