"""Routes: a partner's feed, one nudge with its deliveries, acknowledge / snooze / resolve,
its channels; admins: channels and secret rotation, the rule configuration, the delivery
log, dead letters and hand retries. A partner token sees its own partner's data only;
another partner's nudge answers exactly like a missing one (404)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.auth import Principal, partner_scope, require_roles
from fourfold.events.bounds import MAX_ID_LENGTH
from fourfold.notifications import actions, channels, queries
from fourfold.notifications.domain.config import ConfigError, RuleName, parse_config
from fourfold.notifications.domain.nudges import Action
from fourfold.notifications.domain.templates import Templates
from fourfold.notifications.errors import (
    ChannelNotFound,
    DeliveryNotFound,
    InvalidField,
    InvalidRules,
    NudgeNotFound,
)
from fourfold.notifications.evaluation import Ruleset
from fourfold.notifications.queries import encode_cursor
from fourfold.notifications.schemas import (
    ActiveRules,
    Channel,
    ChannelCreated,
    ChannelIn,
    ChannelPatch,
    Delivery,
    DeliveryPage,
    FeedPage,
    NudgeDetail,
    NudgeStatus,
    RulesIn,
    RulesValidated,
    SecretRotated,
    SnoozeIn,
    check_target,
    is_private,
)
from fourfold.notifications.views import channel as channel_view
from fourfold.notifications.views import delivery as delivery_view
from fourfold.notifications.views import nudge as nudge_view
from fourfold.notifications.views import nudge_detail
from fourfold.service.openapi import error_responses
from fourfold.service.sessions import ReadSession, WriteSession

router = APIRouter(prefix="/v1")

Reader = Annotated[Principal, Depends(require_roles("partner", "admin"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
Limit = Annotated[int, Query(ge=1, le=200)]


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def _shown(request: Request, row: Any) -> Any:
    """The row with the texts a reader sees now (`Ruleset.shown`)."""
    ruleset: Ruleset = request.app.state.ruleset
    return ruleset.shown(row._mapping, _now(request))


async def _visible_nudge(session: AsyncSession, principal: Principal, nudge_id: str) -> Any:
    row = await queries.nudge_row(session, nudge_id)
    if row is None:
        raise NudgeNotFound()
    partner_scope(principal, row.partner_id, resource="nudge")
    return row


def _partner(principal: Principal, partner_id: str | None) -> str:
    """The partner a list is about: a partner's own by default; admins must name one."""
    if partner_id is None:
        if principal.partner_id is None:
            raise InvalidField("query", "partner_id", "required for an admin token")
        return principal.partner_id
    partner_scope(principal, partner_id, resource="partner")
    return partner_id


PartnerQuery = Annotated[str | None, Query(max_length=128, description="Default: the caller's.")]
Cursor = Annotated[str | None, Query(min_length=1, max_length=512)]

_CURSOR = {400: "`invalid_cursor`: not a cursor this listing returned"}
_OTHER_PARTNER = {404: "`partner_id` is another partner's (for a partner token)"}
_NUDGE = {404: "No such nudge (another partner's answers the same)"}
_CLOSED = {409: "`nudge_closed`: the nudge is resolved"}
_CHANNEL = {404: "No such channel"}
_DELIVERY = {404: "No such delivery"}
FEED_ERRORS = error_responses(400, 404, descriptions=_CURSOR | _OTHER_PARTNER)
NUDGE_ERRORS = error_responses(404, descriptions=_NUDGE)
ACTION_ERRORS = error_responses(404, 409, descriptions=_NUDGE | _CLOSED)
SNOOZE_ERRORS = error_responses(
    404, 409, 422, descriptions=_NUDGE | _CLOSED | {422: "`until` not in the future, or invalid"}
)


@router.get("/nudges", tags=["feed"], responses=FEED_ERRORS)
async def get_feed(
    request: Request,
    principal: Reader,
    session: ReadSession,
    partner_id: PartnerQuery = None,
    status: NudgeStatus | None = None,
    rule: RuleName | None = None,
    customer_id: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> FeedPage:
    """The partner's in-app feed, newest first; filter by status, rule and customer."""
    partner_id = _partner(principal, partner_id)
    rows = await queries.feed(
        session,
        partner_id=partner_id,
        status=None if status is None else status.value,
        rule=None if rule is None else rule.value,
        customer_id=customer_id,
        cursor=cursor,
        limit=limit,
    )
    page = rows[:limit]
    more = len(rows) > limit
    return FeedPage(
        items=[nudge_view(_shown(request, r)) for r in page],
        next_cursor=encode_cursor(page[-1].raised_at, page[-1].nudge_id) if more else None,
    )


@router.get("/nudges/{nudge_id}", tags=["feed"], responses=NUDGE_ERRORS)
async def get_nudge(
    request: Request, nudge_id: str, principal: Reader, session: ReadSession
) -> NudgeDetail:
    """One nudge: why it fired (facts), its next step and its delivery history."""
    row = await _visible_nudge(session, principal, nudge_id)
    found = [d._mapping for d in await queries.deliveries_of_nudge(session, nudge_id)]
    attempts = await queries.attempts_of(session, [d["delivery_id"] for d in found])
    return nudge_detail(_shown(request, row), found, attempts)


async def _act(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    nudge_id: str,
    action: Action,
    until: datetime | None = None,
) -> NudgeDetail:
    await actions.act(
        session,
        principal=principal,
        nudge_id=nudge_id,
        action=action,
        now=_now(request),
        until=until,
    )
    return await get_nudge(request, nudge_id, principal, session)


@router.post("/nudges/{nudge_id}/acknowledge", tags=["feed"], responses=ACTION_ERRORS)
async def acknowledge(
    nudge_id: str, principal: Reader, session: WriteSession, request: Request
) -> NudgeDetail:
    """Seen and being handled: stays open until its condition clears or it is resolved."""
    return await _act(request, session, principal, nudge_id, Action.ACKNOWLEDGE)


@router.post("/nudges/{nudge_id}/snooze", tags=["feed"], responses=SNOOZE_ERRORS)
async def snooze(
    nudge_id: str, body: SnoozeIn, principal: Reader, session: WriteSession, request: Request
) -> NudgeDetail:
    """Hide until `until`; it comes back then if its condition still holds."""
    if body.until <= _now(request):
        raise InvalidField("body", "until", "must be in the future")
    return await _act(request, session, principal, nudge_id, Action.SNOOZE, body.until)


@router.post("/nudges/{nudge_id}/resolve", tags=["feed"], responses=ACTION_ERRORS)
async def resolve(
    nudge_id: str, principal: Reader, session: WriteSession, request: Request
) -> NudgeDetail:
    """Done: raised again only after its condition clears and then returns."""
    return await _act(request, session, principal, nudge_id, Action.RESOLVE)


@router.get(
    "/channels",
    tags=["channels"],
    responses=error_responses(404, descriptions=_OTHER_PARTNER),
)
async def get_channels(
    principal: Reader, session: ReadSession, request: Request, partner_id: PartnerQuery = None
) -> list[Channel]:
    """The partner's delivery channels (the in-app feed is always on); never a secret."""
    partner_id = _partner(principal, partner_id)
    now = _now(request)
    return [channel_view(r._mapping, now) for r in await channels.of_partner(session, partner_id)]


def _allowed_target(request: Request, kind: str, target: str) -> None:
    if (
        kind != "email"
        and is_private(target)
        and not request.app.state.settings.notifications_allow_private_targets
    ):
        raise InvalidField("body", "target", "private and loopback addresses are not allowed")


@router.post(
    "/admin/notifications/partners/{partner_id}/channels",
    tags=["admin"],
    status_code=201,
    responses=error_responses(
        404,
        422,
        descriptions={
            404: "No such route: `partner_id` is empty or holds a `/`",
            422: "A bad `kind` or `target` (a private address unless allowed), or `partner_id`",
        },
    ),
)
async def create_channel(
    partner_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
    body: ChannelIn,
    principal: Admin,
    session: WriteSession,
    request: Request,
) -> ChannelCreated:
    """Add a channel; a webhook's signing secret is in this answer and never shown again."""
    _allowed_target(request, body.kind, body.target)
    now = _now(request)
    row, secret = await channels.create(
        session, partner_id=partner_id, kind=body.kind, target=body.target, now=now
    )
    return ChannelCreated(**channel_view(row._mapping, now).model_dump(), secret=secret)


async def _channel(session: AsyncSession, channel_id: str) -> Any:
    row = await channels.get(session, channel_id, lock=True)
    if row is None:
        raise ChannelNotFound()
    return row


@router.patch(
    "/admin/notifications/channels/{channel_id}",
    tags=["admin"],
    responses=error_responses(
        404, 422, descriptions=_CHANNEL | {422: "A bad `target` for the channel's kind"}
    ),
)
async def change_channel(
    channel_id: str, body: ChannelPatch, principal: Admin, session: WriteSession, request: Request
) -> Channel:
    """Change a channel's target, or enable / disable it (enabling clears a 410's mark)."""
    row = await _channel(session, channel_id)
    values = body.model_dump(exclude_none=True)
    if "target" in values:
        try:
            check_target(row.kind, values["target"])
        except ValueError as exc:
            raise InvalidField("body", "target", str(exc)) from None
        _allowed_target(request, row.kind, values["target"])
    now = _now(request)
    changed = await channels.change(session, channel_id, now=now, **values)
    return channel_view(changed._mapping, now)


@router.post(
    "/admin/notifications/channels/{channel_id}/rotate-secret",
    tags=["admin"],
    responses=error_responses(
        404, 422, descriptions=_CHANNEL | {422: "The channel is not a webhook (no secret)"}
    ),
)
async def rotate_secret(
    channel_id: str, principal: Admin, session: WriteSession, request: Request
) -> SecretRotated:
    """A new webhook secret; the previous one keeps signing beside it for the overlap."""
    row = await _channel(session, channel_id)
    if row.kind != "webhook":
        raise InvalidField("path", "channel_id", "only a webhook channel has a secret")
    now = _now(request)
    overlap = timedelta(seconds=request.app.state.settings.notifications_secret_overlap_s)
    rotated, secret = await channels.rotate(session, row, now=now, overlap=overlap)
    expiries = [s["expires_at"] for s in rotated.secrets if s["expires_at"] is not None]
    return SecretRotated(
        channel=channel_view(rotated._mapping, now),
        secret=secret,
        previous_expires_at=max(expiries) if expiries else None,
    )


@router.get("/admin/notifications/rules", tags=["admin"])
async def get_rules(principal: Admin, request: Request) -> ActiveRules:
    """The rule configuration in force (thresholds, templates, delivery policy)."""
    ruleset: Ruleset = request.app.state.ruleset
    path = request.app.state.settings.notifications_rules_path
    return ActiveRules(
        version=ruleset.config.version,
        source="default" if path is None else str(path),
        config=ruleset.config.model_dump(mode="json"),
    )


@router.post(
    "/admin/notifications/rules/validate",
    tags=["admin"],
    responses=error_responses(422, descriptions={422: "Each bad field of the YAML, by its path"}),
)
async def validate_rules(body: RulesIn, principal: Admin) -> RulesValidated:
    """Check a new configuration, templates included, without applying it (422 names each
    bad field)."""
    try:
        config = parse_config(body.yaml)
        Templates(config)
    except ConfigError as exc:
        raise InvalidRules([{**e, "loc": ["yaml", *e["loc"]]} for e in exc.errors]) from None
    return RulesValidated(valid=True, version=config.version)


async def _log(
    session: AsyncSession,
    *,
    status: str | None,
    partner_id: str | None,
    channel_id: str | None,
    cursor: str | None,
    limit: int,
) -> DeliveryPage:
    rows = await queries.delivery_log(
        session,
        status=status,
        partner_id=partner_id,
        channel_id=channel_id,
        cursor=cursor,
        limit=limit,
    )
    page = rows[:limit]
    attempts = await queries.attempts_of(session, [r.delivery_id for r in page])
    return DeliveryPage(
        items=[
            delivery_view(r._mapping, [a._mapping for a in attempts.get(r.delivery_id, [])])
            for r in page
        ],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].delivery_id)
        if len(rows) > limit
        else None,
    )


DeliveryStatus = Annotated[
    str | None, Query(pattern="^(pending|sending|delivered|dead|cancelled)$")
]


@router.get(
    "/admin/notifications/deliveries",
    tags=["admin"],
    responses=error_responses(400, descriptions=_CURSOR),
)
async def get_deliveries(
    principal: Admin,
    session: ReadSession,
    status: DeliveryStatus = None,
    partner_id: Annotated[str | None, Query(max_length=128)] = None,
    channel_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> DeliveryPage:
    """The delivery log, newest first, each with its attempts."""
    return await _log(
        session,
        status=status,
        partner_id=partner_id,
        channel_id=channel_id,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/admin/notifications/dead-letters",
    tags=["admin"],
    responses=error_responses(400, descriptions=_CURSOR),
)
async def get_dead_letters(
    principal: Admin,
    session: ReadSession,
    partner_id: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> DeliveryPage:
    """Deliveries that failed their last attempt (or met a 410), to fix and retry by hand."""
    return await _log(
        session, status="dead", partner_id=partner_id, channel_id=None, cursor=cursor, limit=limit
    )


@router.post(
    "/admin/notifications/deliveries/{delivery_id}/retry",
    tags=["admin"],
    responses=error_responses(
        404,
        409,
        descriptions=_DELIVERY | {409: "`delivery_not_dead`: only a dead letter is retried"},
    ),
)
async def retry_delivery(
    delivery_id: str, principal: Admin, session: WriteSession, request: Request
) -> Delivery:
    """Send a dead-lettered delivery again, with the same webhook-id and a fresh schedule."""
    await actions.retry_dead(session, delivery_id=delivery_id, now=_now(request))
    row = await queries.delivery_row(session, delivery_id)
    if row is None:
        raise DeliveryNotFound()
    return delivery_view(row._mapping)
