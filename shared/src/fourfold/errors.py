"""One error tree for every service, rendered by one handler as `{"error", "detail",
"request_id"}`.

    FourfoldError (500, internal_error)
    ├── BadRequest (400, bad_request)
    │   └── InvalidCursor (400, invalid_cursor): a pagination cursor this API did not issue
    ├── Unauthenticated (401, unauthenticated)
    ├── Forbidden (403, forbidden)
    ├── NotFound (404, not_found)
    ├── RequestTimeout (408, request_timeout)
    ├── Conflict (409, conflict): the resource's state forbids the change
    ├── PayloadTooLarge (413, payload_too_large)
    ├── UnsupportedMediaType (415, unsupported_media_type)
    ├── ValidationFailed (422, validation_failed)
    │   └── InvalidField: a rule spanning the request (e.g. from < to), naming the field
    ├── TooManyRequests (429, rate_limited; carries Retry-After)
    └── Unavailable (503, unavailable; carries Retry-After)

Services subclass these for their own cases. `detail` is machine-readable: a string, or a
list of `{"loc": [...], "msg": ..., "type": ...}` items naming the offending field.
`request_id` is the request's `X-Request-ID` (the one the answer carries, and every log line
written while the request ran), so a caller can quote one id for one failure.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class FourfoldError(Exception):
    """Base of every error a Fourfold service raises on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail if detail is not None else self.code.replace("_", " ")
        self.headers = headers or {}


class BadRequest(FourfoldError):
    status_code = 400
    code = "bad_request"


class Unauthenticated(FourfoldError):
    status_code = 401
    code = "unauthenticated"

    def __init__(self, detail: Any = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(FourfoldError):
    status_code = 403
    code = "forbidden"


class NotFound(FourfoldError):
    status_code = 404
    code = "not_found"


class RequestTimeout(FourfoldError):
    status_code = 408
    code = "request_timeout"


class Conflict(FourfoldError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(FourfoldError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(FourfoldError):
    status_code = 415
    code = "unsupported_media_type"


class ValidationFailed(FourfoldError):
    status_code = 422
    code = "validation_failed"


class InvalidCursor(BadRequest):
    """A cursor this API did not hand out (or from another sort): 400 naming `cursor`."""

    code = "invalid_cursor"

    def __init__(self, msg: str) -> None:
        super().__init__([{"loc": ["query", "cursor"], "msg": msg, "type": "value_error"}])


class InvalidField(ValidationFailed):
    """A value that passed its type but not a rule that spans the request (e.g. from < to)."""

    def __init__(self, where: str, field: str, msg: str) -> None:
        super().__init__([{"loc": [where, field], "msg": msg, "type": "value_error"}])


class TooManyRequests(FourfoldError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: Any = None, *, retry_after_seconds: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class Unavailable(FourfoldError):
    status_code = 503
    code = "unavailable"

    def __init__(self, detail: Any = None, *, retry_after_seconds: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


REQUEST_ID_STATE = "fourfold_request_id"
"""The key of the request's id in the ASGI scope's `state` (set by the app shell's
middleware, `fourfold.service.edge`, before anything else runs)."""


def error_body(code: str, detail: Any, request_id: str) -> dict[str, Any]:
    return {"error": code, "detail": detail, "request_id": request_id}


def request_id_of(request: Request) -> str:
    """The id the answer to `request` carries in `X-Request-ID`; a fresh one for an app
    without the shell (it sends no such header)."""
    request_id = request.scope.get("state", {}).get(REQUEST_ID_STATE)
    return request_id if isinstance(request_id, str) else uuid.uuid4().hex


async def _render_fourfold_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FourfoldError)
    body = error_body(exc.code, exc.detail, request_id_of(request))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _render_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]} for err in exc.errors()
    ]
    body = error_body(ValidationFailed.code, detail, request_id_of(request))
    return JSONResponse(body, status_code=422)


async def _render_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    body = error_body(code, exc.detail, request_id_of(request))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as `{"error", "detail", "request_id"}` with its status code."""
    app.add_exception_handler(FourfoldError, _render_fourfold_error)
    app.add_exception_handler(RequestValidationError, _render_request_validation)
    app.add_exception_handler(StarletteHTTPException, _render_http_exception)
