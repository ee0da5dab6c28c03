"""The shell's ASGI middleware: what every request goes through before any route sees it.

In order, for every HTTP request:

1. **Request id.** `X-Request-ID` is taken from the request (when it is a sane token) or
   generated, put on every log line written while the request runs, echoed in the
   response, and quoted as `request_id` in every error body (`fourfold.errors`).
2. **Storable parameters.** A path or query parameter holding a character PostgreSQL text
   cannot store (NUL, an unpaired surrogate) answers 422 `validation_failed` naming the
   parameter, before a route could hand it to the database.
3. **Authentication before the body.** A request that carries a body must present a valid
   bearer token first, or it is answered 401 without a byte of the body being read (routes
   that authenticate by a signature over the body opt out with `authenticates_own_body`).
   A valid token is verified here once, whatever the method; the routes reuse its principal.
4. **Rate limit.** A request with a valid token takes one request from its caller's bucket
   (`fourfold.service.rate_limit`, limits per role from settings), or is answered 429
   `rate_limited` with `Retry-After` before its body is read.
5. **Bounded body.** The body is read here, at most `max_body_bytes` (413
   `payload_too_large`, declared or chunked) within `body_read_timeout_s` (408
   `request_timeout`), and handed on to the route from memory (`receive`, or
   `buffered_body` for a route that takes it without Starlette's stream).
6. **Catch-all.** An exception no handler rendered is logged as JSON with its traceback
   and answered 500 `internal_error` with the request id, never as plain text.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fourfold.auth.dependencies import verify_bearer
from fourfold.auth.principal import Principal
from fourfold.auth.tokens import VerifiedTokens
from fourfold.errors import (
    REQUEST_ID_STATE,
    FourfoldError,
    PayloadTooLarge,
    RequestTimeout,
    TooManyRequests,
    Unauthenticated,
    ValidationFailed,
    error_body,
)
from fourfold.logs import log_context
from fourfold.service.rate_limit import RateLimiter
from fourfold.service.text import UNSTORABLE, storable
from fourfold.settings import FourfoldSettings

log = logging.getLogger("fourfold.service")
LINGER_BEFORE_CLOSE_S = 0.25
"""How long an early refusal (401, 413, 408 before the body was read) waits to close."""

REQUEST_ID_HEADER = "x-request-id"
PRINCIPAL_STATE = "fourfold_principal"
"""The key of the verified caller (a `Principal`) in the ASGI scope's `state`."""
BODY_STATE = "fourfold_body"
"""The key of the body the shell read, in the ASGI scope's `state` (`buffered_body`)."""
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_REQUEST_ID_KEY = REQUEST_ID_HEADER.encode()
_READ_HEADERS = frozenset(
    {_REQUEST_ID_KEY, b"authorization", b"content-length", b"transfer-encoding"}
)
_OWN_BODY_AUTH = "__fourfold_authenticates_own_body__"
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


def _rate_limit(principal: Principal, limiter: RateLimiter) -> None:
    """Take one request from the caller's bucket, or refuse with 429 and `Retry-After`."""
    wait = limiter.admit(principal)
    if wait is not None:
        log.info(
            "rate limited",
            extra={"role": principal.role, "subject": principal.subject, "retry_after": wait},
        )
        raise TooManyRequests(
            f"more than {limiter.limits[principal.role]} requests per minute for "
            f"this {principal.role} token; retry after {wait} s",
            retry_after_seconds=wait,
        )


def authenticates_own_body(endpoint: _Endpoint) -> _Endpoint:
    """Mark a route that authenticates by a signature over its body (a billing system's
    webhook): the shell then reads its body without a bearer token. Use under the route
    decorator: `@router.post(...)` then `@authenticates_own_body`."""
    setattr(endpoint, _OWN_BODY_AUTH, True)
    return endpoint


class _Disconnected(Exception):
    """The client went away while sending its body: nobody to answer."""


@dataclass(frozen=True, slots=True)
class _Guards:
    """What the shell builds from one settings object and keeps while it is the app's: the
    verified-token cache and the rate limiter (a new app's settings start both afresh)."""

    settings: FourfoldSettings
    tokens: VerifiedTokens
    limiter: RateLimiter

    @classmethod
    def of(cls, settings: object) -> _Guards:
        if not isinstance(settings, FourfoldSettings):
            raise RuntimeError("app.state.settings must hold a FourfoldSettings")
        secret = settings.auth_secret.get_secret_value()
        return cls(
            settings,
            VerifiedTokens(secret=secret, issuer=settings.auth_issuer),
            RateLimiter.from_settings(settings),
        )


class ShellMiddleware:
    """Request id, storable parameters, auth before body, bounded body, JSON catch-all."""

    def __init__(self, app: ASGIApp, *, fastapi_app: FastAPI) -> None:
        self.app = app
        self._fastapi = fastapi_app
        self._built: _Guards | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _read_headers(scope)
        request_id = _request_id(headers.get(_REQUEST_ID_KEY))
        request_id_text = request_id.decode()
        state = scope.setdefault("state", {})
        state[REQUEST_ID_STATE] = request_id_text
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [h for h in message.get("headers", ()) if h[0] != b"x-request-id"]
                headers.append((b"x-request-id", request_id))
                message = {**message, "headers": headers}
            await send(message)

        with log_context(request_id=request_id_text):
            try:
                receive = await self._admit(scope, receive, headers, state)
            except _Disconnected:
                return
            except FourfoldError as exc:
                await _answer(send_with_id, exc, request_id_text, close=True)
                return
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception(
                    "unhandled error", extra={"method": scope["method"], "path": scope["path"]}
                )
                if not started:
                    failure = FourfoldError(f"unexpected error; quote request id {request_id_text}")
                    await _answer(send_with_id, failure, request_id_text, close=False)

    async def _admit(
        self, scope: Scope, receive: Receive, headers: dict[bytes, bytes], state: dict[str, Any]
    ) -> Receive:
        """Refuse what must not reach a route; return the receive the route reads from."""
        problems = self._unstorable_parameters(scope)
        if problems:
            raise ValidationFailed(problems)
        guards = self._guards()
        settings = guards.settings
        refused: Unauthenticated | None = None
        try:
            principal = verify_bearer(
                headers.get(b"authorization"),
                settings=settings,
                clock=self._fastapi.state.clock,
                tokens=guards.tokens,
            )
        except Unauthenticated as exc:
            refused = exc  # a route without a body answers it itself, if it needs a token
        else:
            state[PRINCIPAL_STATE] = principal
            _rate_limit(principal, guards.limiter)
        declared = headers.get(b"content-length")
        chunked = b"transfer-encoding" in headers
        if not chunked and (declared is None or declared.strip() in {b"", b"0"}):
            return receive  # no body: nothing to authenticate first or to bound
        if refused is not None and not self._authenticates_own_body(scope):
            raise refused
        limit = settings.max_body_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        body = await _read_body(receive, limit=limit, timeout_s=settings.body_read_timeout_s)
        state[BODY_STATE] = body
        return _replay(body, receive)

    def _guards(self) -> _Guards:
        """The guards of the app's settings: built again only when the settings are new."""
        settings = getattr(self._fastapi.state, "settings", None)
        if self._built is None or self._built.settings is not settings:
            self._built = _Guards.of(settings)
        return self._built

    def _unstorable_parameters(self, scope: Scope) -> list[dict[str, Any]]:
        """`[{"loc", "msg", "type"}]` for each path or query parameter PostgreSQL cannot
        store; the scan is a substring test unless something suspicious is there."""
        problems: list[dict[str, Any]] = []
        if not storable(scope["path"]):
            matched = matched_route(self._fastapi, scope)
            for name, value in ({} if matched is None else matched[1]).items():
                if isinstance(value, str) and not storable(value):
                    problems.append(_problem("path", name))
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if not storable(name) or not storable(value):
                    problems.append(_problem("query", name.replace("\x00", "\\u0000")))
        return problems

    def _authenticates_own_body(self, scope: Scope) -> bool:
        matched = matched_route(self._fastapi, scope)
        endpoint = None if matched is None else getattr(matched[0], "endpoint", None)
        return bool(getattr(endpoint, _OWN_BODY_AUTH, False))


def matched_route(app: FastAPI, scope: Scope) -> tuple[Any, dict[str, Any]] | None:
    """The route that will take `scope` and its path parameters (None: no route does), for
    the rare request the shell must look at before routing."""
    for route in iter_route_contexts(app.router.routes):
        match, child = route.matches(scope)
        if match is Match.FULL:
            return route, child.get("path_params", {})
    return None


def _problem(where: str, name: str) -> dict[str, Any]:
    return {
        "loc": [where, name],
        "msg": UNSTORABLE,
        "type": "string_unstorable",
    }


def _request_id(given: bytes | None) -> bytes:
    """The client's id when it is a sane token, else 32 random hex digits (a uuid4's size)."""
    if given is not None and _SANE_REQUEST_ID.match(given.decode("latin-1")):
        return given
    return os.urandom(16).hex().encode()


def _read_headers(scope: Scope) -> dict[bytes, bytes]:
    """The first value of each header the shell reads, in one pass over the request's."""
    found: dict[bytes, bytes] = {}
    for key, value in scope["headers"]:
        if key in _READ_HEADERS and key not in found:
            found[key] = value
    return found


def buffered_body(scope: Scope) -> bytes | None:
    """The body the shell read for this request (None: it read none, e.g. no body declared),
    for a hot route that takes it without a Starlette request's stream."""
    body = scope.get("state", {}).get(BODY_STATE)
    return body if isinstance(body, bytes) else None


async def _read_body(receive: Receive, *, limit: int, timeout_s: float) -> bytes:
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                body += message.get("body", b"")
                if len(body) > limit:
                    raise PayloadTooLarge(f"request body exceeds {limit} bytes")
                if not message.get("more_body", False):
                    return bytes(body)
    except TimeoutError:
        raise RequestTimeout(f"request body not received within {timeout_s:g} s") from None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the buffered body once, then the client's own messages."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, exc: FourfoldError, request_id: str, *, close: bool) -> None:
    """Send `exc` as the shared error body; `close` when the request body was left unread."""
    payload = orjson.dumps(error_body(exc.code, exc.detail, request_id))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in exc.headers.items()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    if not close:
        await send({"type": "http.response.body", "body": payload})
        return
    # The server closes as the last byte is sent; a client still sending the body it was told
    # not to would then be reset (unread data), which can destroy this answer in flight. Hold
    # the close briefly so the answer reaches the client first (a lingering close).
    await send({"type": "http.response.body", "body": payload, "more_body": True})
    await asyncio.sleep(LINGER_BEFORE_CLOSE_S)
    await send({"type": "http.response.body", "body": b""})


__all__ = [
    "BODY_STATE",
    "PRINCIPAL_STATE",
    "REQUEST_ID_HEADER",
    "ShellMiddleware",
    "authenticates_own_body",
    "buffered_body",
]
