"""OpenAPI documents that tell the truth about every status a route can answer.

`install_shell` installs `install_openapi`, which fills in what the shell itself answers on
every route, so no service repeats it:

- an operation with a bearer security requirement lists **401**, **403** and **429** (the
  token's rate limit, `fourfold.service.rate_limit`);
- an operation with parameters or a body lists **422** with the shared error body (not
  FastAPI's `HTTPValidationError`, which the services never send);
- an operation with a body lists **400** (a body that cannot be decoded), **401** (the
  token is checked before the body is read), **408** (body too slow) and **413** (too large).

What only the route knows it says with `responses=error_responses(404, 400, ...)` (each with
the shared `ErrorBody` schema and a default description; pass `descriptions=` to say more),
and a body FastAPI cannot infer (a route reading the raw request) with
`openapi_extra=request_body({...media type: type...})`, whose schemas land in
`components/schemas` like FastAPI's own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field, TypeAdapter

DESCRIPTIONS: Final[dict[int, str]] = {
    400: "Bad request: `detail` says what is wrong",
    401: "Missing or invalid bearer token",
    403: "The token's role may not call this route",
    404: "Not found (another partner's resource answers the same)",
    408: "The request body was not received in time",
    409: "Conflict with the current state",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Validation failed: `detail` names each offending field",
    429: "Too many requests for this token: retry after `Retry-After` seconds",
    503: "Unavailable for now: retry after `Retry-After` seconds",
}
_DEFS_KEY: Final = "x-fourfold-defs"
_REF_TEMPLATE: Final = "#/components/schemas/{model}"
_VALIDATION_SCHEMAS: Final = ("HTTPValidationError", "ValidationError")


class ErrorBody(BaseModel):
    """The body of every error answer, from every service."""

    error: str = Field(description="Machine-readable code, e.g. `not_found`.")
    detail: str | list[Any] = Field(
        description=(
            "Text, or a list of items; field errors are `{loc, msg, type}` with `loc` naming "
            "the field (e.g. `['query', 'cursor']`)."
        )
    )
    request_id: str = Field(
        description=(
            "The request's id, the same as the answer's `X-Request-ID` header (the caller's own "
            "when it sent a sane one, else made up) and on every log line of the request: "
            "quote it when reporting the error."
        )
    )


def error_responses(
    *statuses: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with the shared error body."""
    said = descriptions or {}
    return {
        status: {"model": ErrorBody, "description": said.get(status) or DESCRIPTIONS[status]}
        for status in statuses
    }


def request_body(content: Mapping[str, Any], *, description: str | None = None) -> dict[str, Any]:
    """`openapi_extra=` declaring a required body per media type from Python types (e.g. a
    discriminated union of pydantic models), for routes that read the raw request."""
    media: dict[str, Any] = {}
    defs: dict[str, Any] = {}
    for media_type, annotation in content.items():
        schema = TypeAdapter(annotation).json_schema(ref_template=_REF_TEMPLATE, mode="validation")
        defs.update(schema.pop("$defs", {}))
        media[media_type] = {"schema": schema}
    body: dict[str, Any] = {"required": True, "content": media}
    if description:
        body["description"] = description
    return {"requestBody": body, _DEFS_KEY: defs}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` add the statuses the shell answers and hoist body schemas."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = complete(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add the shell's statuses to every operation of `document` (in place; returned)."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "ErrorBody", ErrorBody.model_json_schema(ref_template=_REF_TEMPLATE, mode="serialization")
    )
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for name, schema in operation.pop(_DEFS_KEY, {}).items():
                schemas.setdefault(name, schema)
            _complete_operation(operation)
    for name in _VALIDATION_SCHEMAS:
        if name in schemas and f'"#/components/schemas/{name}"' not in _text(document, name):
            del schemas[name]
    return document


def _complete_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses: list[int] = []
    if operation.get("security"):
        statuses += [401, 403, 429]
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.append(422)
    if operation.get("requestBody"):
        statuses += [400, 401, 408, 413]  # 400: a body that cannot be decoded
    for status in statuses:
        existing = responses.get(str(status))
        if existing is None or _is_fastapi_validation(existing):
            responses[str(status)] = _error_response(DESCRIPTIONS[status])
    operation["responses"] = dict(sorted(responses.items()))


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _text(document: dict[str, Any], skip: str) -> str:
    """The document as text without the component `skip`: to see whether anything refers
    to it still."""
    components = dict(document["components"]["schemas"])
    components.pop(skip, None)
    return json.dumps({**document, "components": {**document["components"], "schemas": components}})


__all__ = ["DESCRIPTIONS", "ErrorBody", "error_responses", "install_openapi", "request_body"]
