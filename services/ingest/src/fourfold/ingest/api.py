"""The ingest routes: POST /v1/events and GET /v1/events/{source}/{id}."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.datastructures import Headers
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from fourfold.auth import Principal, require_roles
from fourfold.auth.dependencies import authenticated_principal
from fourfold.errors import NotFound, PayloadTooLarge, UnsupportedMediaType
from fourfold.events.registry import InputEvent
from fourfold.ingest import binary_mode, intake, repository
from fourfold.ingest.errors import EventsRejected, MalformedJson
from fourfold.ingest.publishing import publish
from fourfold.ingest.runtime import IngestRuntime
from fourfold.ingest.schemas import AcceptedEvent, IngestResponse
from fourfold.service.edge import PRINCIPAL_STATE, buffered_body
from fourfold.service.openapi import error_responses, request_body

router = APIRouter(prefix="/v1/events", tags=["events"])

SINGLE_TYPES = {"application/cloudevents+json", "application/json"}
BATCH_TYPE = "application/cloudevents-batch+json"

EVENTS_DESCRIPTION = """
Takes one CloudEvent (`application/cloudevents+json` or `application/json`) or a batch
(`application/cloudevents-batch+json`: a JSON array; `application/json` with an array is
read as a batch too). Limits: `FOURFOLD_MAX_BATCH_EVENTS` events (default 1,000) and
`FOURFOLD_MAX_BODY_BYTES` (default 1 MiB).

Binary content mode (what CloudEvents SDKs send by default): the attributes in `ce-specversion`,
`ce-id`, `ce-source`, `ce-type`, `ce-time` (and optional `ce-subject`, extensions) headers,
the body is `data` as `application/json`. A missing required header is a **422** naming it;
the same validation, dedupe and results apply, and problems name the `ce-` header or the
body path.

**202** only after the broker acknowledged (acks=all) every accepted event. The body gives
each event's outcome, in request order:

- `accepted`: published now to its topic, keyed by customer id;
- `duplicate`: the same `source` + `id` was accepted before (or earlier in this batch); it
  is reported, not published again, and is not an error;
- `rejected`: invalid; `errors` names each field path and the reason. A batch with some
  bad events accepts the good ones.

An event is remembered as accepted only after the broker's ack, so retrying an event whose
request failed always goes through; a copy that reaches the broker twice is harmless
because every consumer dedupes by `source` + `id`.

Errors: **400** malformed JSON, **401/403** without the ingest credential, **413** body or
batch too large, **415** another content type, **422** when every event is invalid (the
detail lists them), **503** with `Retry-After` when the broker did not acknowledge — then
nothing of the request is remembered as accepted and a retry with the same ids goes
through (some events may still have reached the broker; consumers dedupe them).
"""

Batch = Annotated[list[InputEvent], Field(min_length=1)]

_require_ingestor = require_roles("ingest")
StatusReader = Annotated[Principal, Depends(require_roles("ingest", "admin"))]


async def runtime(request: Request) -> IngestRuntime:  # async: no threadpool hop per request
    state_runtime: IngestRuntime = request.app.state.runtime
    return state_runtime


Runtime = Annotated[IngestRuntime, Depends(runtime)]


def _events_from(content_type: str, body: bytes, max_events: int) -> tuple[list[Any], bool]:
    """Decode the body into a list of raw events; say whether it was a single event."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in SINGLE_TYPES and media_type != BATCH_TYPE:
        raise UnsupportedMediaType(
            f"content type must be one of {sorted([*SINGLE_TYPES, BATCH_TYPE])}, "
            f"not {media_type or 'missing'!r}"
        )
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"body is not valid JSON: {exc}") from exc
    if media_type == BATCH_TYPE and not isinstance(document, list):
        raise MalformedJson("a batch must be a JSON array of events")
    if media_type == "application/cloudevents+json" and not isinstance(document, dict):
        raise MalformedJson("application/cloudevents+json takes one event object")
    if isinstance(document, list):
        if len(document) > max_events:
            raise PayloadTooLarge(f"a batch holds at most {max_events} events")
        if not document:
            raise MalformedJson("a batch must hold at least one event")
        return document, False
    return [document], True


@router.post(
    "",
    status_code=202,
    response_model=IngestResponse,
    summary="Publish one event or a batch",
    description=EVENTS_DESCRIPTION,
    openapi_extra={
        **request_body(
            {
                "application/cloudevents+json": InputEvent,
                "application/cloudevents-batch+json": Batch,
                "application/json": InputEvent | Batch,
            },
            description="One v1 input event (a CloudEvent, by `type`), or a batch of them.",
        ),
        "security": [{"FourfoldBearer": []}],  # checked in the body of the route: see below
    },
    responses=error_responses(
        400,
        413,
        415,
        422,
        503,
        descriptions={
            400: "Malformed JSON (`malformed_json`)",
            413: "Body or batch too large",
            422: "Every event was invalid (`events_rejected`; `detail` lists each one)",
            503: "Broker did not acknowledge; retry after Retry-After",
        },
    ),
)
async def post_events(request: Request) -> Response:
    # The hot path of every webhook: the role is checked here, not by FastAPI dependencies,
    # whose solving cost as much as the route's own work per single-event POST. The shell
    # verified the token before the body (authenticated_principal reuses its principal).
    await _require_ingestor(await authenticated_principal(request, None))
    headers = request.headers
    payload = await _accept(
        request.app.state.runtime,
        await request.body(),  # the shell authenticated first and bounded its size
        content_type=headers.get("content-type", ""),
        binary=headers if binary_mode.is_binary(headers) else None,
    )
    return Response(payload, status_code=202, media_type="application/json")


async def _accept(
    rt: IngestRuntime, body: bytes, *, content_type: str, binary: Headers | None
) -> bytes:
    """Validate, publish and encode the outcomes (`binary`: the headers of a binary-mode
    request, whose attributes they carry); EventsRejected when nothing is valid."""
    if binary is not None:
        valid, rejected = intake.validate([binary_mode.event_from(binary, body)])
        rejected = binary_mode.relocated(rejected)
    else:
        items, _single = _events_from(content_type, body, rt.settings.max_batch_events)
        valid, rejected = intake.validate(items)
    if not valid:  # nothing to publish: the answer does not depend on the broker
        raise EventsRejected([r.model_dump(mode="json") for r in rejected])
    return orjson.dumps(await publish(rt, valid, rejected))


class _PostEventsApp:
    """`post_events` as a bare ASGI app: what FastAPI's route adds around it (a request and
    a function exit stack, an exception wrapper, solving a signature with nothing to solve,
    the effective-route lookups of an included router) was a tenth of the process under
    single-event load (docs/benchmarks.md, issue #13, session 7). Errors still reach the
    app's exception handlers (Starlette's ExceptionMiddleware wraps the whole router).

    A request the shell verified and read (every POST with a body) skips Starlette's request
    too: its principal and body come from the shell, the two headers from one pass, and
    the answer is sent as the same two messages a `Response` sends (session 10)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get(PRINCIPAL_STATE)
        body = buffered_body(scope)
        if not isinstance(principal, Principal) or body is None:
            response = await post_events(Request(scope, receive, send))
            await response(scope, receive, send)
            return
        await _require_ingestor(principal)
        content_type, has_specversion = _content_type_and_specversion(scope)
        binary = binary_mode.binary_by(has_specversion, content_type)
        payload = await _accept(
            scope["app"].state.runtime,
            body,
            content_type=content_type,
            binary=Headers(scope=scope) if binary else None,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [
                    (b"content-length", str(len(payload)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _content_type_and_specversion(scope: Scope) -> tuple[str, bool]:
    """The request's first `content-type` ("" if none) and whether `ce-specversion` is sent."""
    content_type: str | None = None
    has_specversion = False
    for key, value in scope["headers"]:
        if key == b"content-type" and content_type is None:
            content_type = value.decode("latin-1")
        elif key == b"ce-specversion":
            has_specversion = True
    return content_type or "", has_specversion


class _PostEventsRoute(Route):
    """POST /v1/events ahead of the FastAPI route, which stays for the OpenAPI document
    (this one is not in it) and is never reached by a POST."""

    def __init__(self) -> None:
        super().__init__(
            f"{router.prefix}", _PostEventsApp(), methods=["POST"], include_in_schema=False
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self  # the metrics label it by its template, as FastAPI's
        return match, child_scope


def install_fast_post(app: FastAPI) -> None:
    """Put the bare POST /v1/events first in `app`'s routes (after `include_router`)."""
    app.router.routes.insert(0, _PostEventsRoute())


@router.get(
    "/{source:path}/{event_id}",
    response_model=AcceptedEvent,
    summary="Was this event accepted, and when",
    responses=error_responses(404),
)
async def get_event(source: str, event_id: str, _: StatusReader, rt: Runtime) -> AcceptedEvent:
    """Tell whether ingest accepted the event with this `source` (URL-encoded) and `id`."""
    return await _accepted(rt, source=source, event_id=event_id)


@router.get(
    "",
    response_model=AcceptedEvent,
    summary="Look an event up by query",
    responses=error_responses(404),
)
async def lookup_event(
    source: Annotated[str, Query(min_length=1, max_length=256)],
    id: Annotated[str, Query(min_length=1, max_length=256)],
    _: StatusReader,
    rt: Runtime,
) -> AcceptedEvent:
    """The same as the path form, for any `id` (one containing "/" cannot go in a path)."""
    return await _accepted(rt, source=source, event_id=id)


async def _accepted(rt: IngestRuntime, *, source: str, event_id: str) -> AcceptedEvent:
    async with rt.sessions() as session:
        found = await repository.find_accepted(session, source=source, id=event_id)
    if found is None:
        raise NotFound(f"no accepted event with source {source!r} and id {event_id!r}")
    return found
