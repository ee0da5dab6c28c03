"""The injectable clock, and the one error tree rendered as `{"error", "detail"}`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from fourfold.clock import ManualClock, SystemClock
from fourfold.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    FourfoldError,
    InvalidCursor,
    InvalidField,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
    install_error_handlers,
)
from fourfold.testing.errors import error_of

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_manual_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 3, 1, 12, 0))  # noqa: DTZ001 - the point of the test


def test_manual_clock_stands_still_until_advanced() -> None:
    clock = ManualClock(START)
    assert clock.now() == clock.now() == START
    assert clock.advance(timedelta(days=21)) == START + timedelta(days=21)
    assert clock.advance(timedelta(seconds=1)) == START + timedelta(days=21, seconds=1)
    assert clock.now() == START + timedelta(days=21, seconds=1)


def test_manual_clock_keeps_the_zone_it_was_given() -> None:
    cet = timezone(timedelta(hours=1))
    clock = ManualClock(datetime(2026, 3, 1, 13, 0, tzinfo=cet))
    assert clock.now() == START
    assert clock.now().utcoffset() == timedelta(hours=1)


def test_manual_clock_can_be_set() -> None:
    clock = ManualClock(START)
    later = START + timedelta(days=90)
    clock.set(later)
    assert clock.now() == later


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


class Quirky(BadRequest):
    code = "quirky"


class Body(BaseModel):
    seats: int


ERRORS: dict[str, FourfoldError] = {
    "base": FourfoldError(),
    "bad-request": BadRequest("bad"),
    "unauthenticated": Unauthenticated("missing bearer token"),
    "forbidden": Forbidden("role 'partner' may not call this route"),
    "not-found": NotFound("no such event"),
    "too-large": PayloadTooLarge("request body exceeds 1024 bytes"),
    "media-type": UnsupportedMediaType("not 'text/plain'"),
    "validation": ValidationFailed([{"loc": ["data", "seats"], "msg": "bad", "type": "x"}]),
    "unavailable": Unavailable("broker down", retry_after_seconds=7),
    "unavailable-default": Unavailable(),
    "subclass": Quirky("odd"),
    "conflict": Conflict("nudge is closed"),
    "cursor": InvalidCursor("not a cursor this API issued"),
    "field": InvalidField("query", "from", "must be before 'to'"),
}


def build_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{name}")
    async def raise_(name: str) -> None:
        raise ERRORS[name]

    @app.post("/body")
    async def body(payload: Body) -> Body:
        return payload

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.mark.parametrize(
    ("name", "status", "error", "detail"),
    [
        ("base", 500, "internal_error", "internal error"),
        ("bad-request", 400, "bad_request", "bad"),
        ("unauthenticated", 401, "unauthenticated", "missing bearer token"),
        ("forbidden", 403, "forbidden", "role 'partner' may not call this route"),
        ("not-found", 404, "not_found", "no such event"),
        ("too-large", 413, "payload_too_large", "request body exceeds 1024 bytes"),
        ("media-type", 415, "unsupported_media_type", "not 'text/plain'"),
        (
            "validation",
            422,
            "validation_failed",
            [{"loc": ["data", "seats"], "msg": "bad", "type": "x"}],
        ),
        ("unavailable", 503, "unavailable", "broker down"),
        ("subclass", 400, "quirky", "odd"),
        ("conflict", 409, "conflict", "nudge is closed"),
        (
            "cursor",
            400,
            "invalid_cursor",
            [
                {
                    "loc": ["query", "cursor"],
                    "msg": "not a cursor this API issued",
                    "type": "value_error",
                }
            ],
        ),
        (
            "field",
            422,
            "validation_failed",
            [{"loc": ["query", "from"], "msg": "must be before 'to'", "type": "value_error"}],
        ),
    ],
)
async def test_each_error_renders_its_status_and_body(
    client: httpx.AsyncClient, name: str, status: int, error: str, detail: object
) -> None:
    response = await client.get(f"/raise/{name}")
    assert response.status_code == status
    assert error_of(response) == {"error": error, "detail": detail}


async def test_unavailable_carries_retry_after(client: httpx.AsyncClient) -> None:
    assert (await client.get("/raise/unavailable")).headers["Retry-After"] == "7"
    assert (await client.get("/raise/unavailable-default")).headers["Retry-After"] == "5"


async def test_unauthenticated_carries_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.get("/raise/unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_other_errors_carry_neither_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/raise/forbidden")
    assert "Retry-After" not in response.headers
    assert "WWW-Authenticate" not in response.headers


async def test_request_validation_names_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/body", json={"seats": "many"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_failed"
    assert [item["loc"] for item in body["detail"]] == [["body", "seats"]]
    assert set(body["detail"][0]) == {"loc", "msg", "type"}


async def test_unknown_route_and_wrong_method_use_the_same_shape(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/nowhere")
    wrong = await client.get("/body")
    assert missing.status_code == 404
    assert error_of(missing) == {"error": "not_found", "detail": "Not Found"}
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
    assert wrong.headers["Allow"] == "POST"
