"""The app shell on the real service: unstorable strings are 422s naming the parameter, and
a body is read only after the token and only up to its limit (a real uvicorn on loopback)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from fourfold.auth import issue_token
from fourfold.clock import ManualClock
from fourfold.health.app import create_app
from fourfold.health.settings import HealthSettings
from fourfold.testing.errors import error_of
from fourfold.testing.serving import serving

if TYPE_CHECKING:
    from conftest import Service

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def unstorable(where: str, name: str) -> dict[str, Any]:
    return {
        "error": "validation_failed",
        "detail": [
            {
                "loc": [where, name],
                "msg": "must not contain NUL (\\u0000) or an unpaired surrogate",
                "type": "string_unstorable",
            }
        ],
    }


NUL_CASES = [
    ("partner", "GET", "/v1/customers/%00/health", ("path", "customer_id")),
    ("admin", "GET", "/v1/customers/a%00b/health/history", ("path", "customer_id")),
    ("partner", "GET", "/v1/partners/x%00/customers", ("path", "partner_id")),
    ("admin", "GET", "/v1/partners/x%00/summary", ("path", "partner_id")),
    ("admin", "DELETE", "/v1/admin/health/c%00/override", ("path", "customer_id")),
    ("admin", "GET", "/v1/partners/p1/customers?cursor=%00", ("query", "cursor")),
    ("admin", "GET", "/v1/partners/p1/customers?band=red&x%00=1", ("query", "x\\u0000")),
]


async def test_a_nul_in_a_path_or_query_parameter_is_a_422_naming_it(service: Service) -> None:
    for role, method, path, problem in NUL_CASES:
        headers = service.auth(role, "p1" if role == "partner" else None)
        response = await service.client.request(method, path, headers=headers)
        assert (response.status_code, error_of(response)) == (422, unstorable(*problem)), path
        assert response.headers["x-request-id"]


def override(reason: str, service: Service) -> dict[str, Any]:
    expires = (service.clock.now() + timedelta(days=1)).isoformat()
    return {"score": 10, "reason": reason, "expires_at": expires}


async def test_the_override_refuses_unstorable_path_and_reason(service: Service) -> None:
    admin = service.auth()
    body = override("fine", service)
    response = await service.client.put("/v1/admin/health/c%00/override", json=body, headers=admin)
    assert (response.status_code, error_of(response)) == (422, unstorable("path", "customer_id"))
    for reason in ("a\x00b", "\ud800"):
        raw = json.dumps(override(reason, service))  # ASCII escapes: \u0000, \ud800
        response = await service.client.put(
            "/v1/admin/health/c1/override",
            content=raw,
            headers={**admin, "content-type": "application/json"},
        )
        assert response.status_code == 422, (reason, response.text)
        detail = response.json()["detail"]
        assert [item["loc"] for item in detail] == [["body", "reason"]]


async def test_a_hand_made_cursor_holding_nul_is_an_invalid_cursor(service: Service) -> None:
    for doc in ({"s": "score", "o": "asc", "v": "1", "id": "a\u0000"},):
        cursor = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
        response = await service.client.get(
            "/v1/partners/p1/customers", params={"cursor": cursor}, headers=service.auth()
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_cursor"


async def test_an_empty_cursor_is_refused_naming_it(service: Service) -> None:
    response = await service.client.get(
        "/v1/partners/p1/customers", params={"cursor": ""}, headers=service.auth()
    )
    assert response.status_code == 422
    assert [item["loc"] for item in response.json()["detail"]] == [["query", "cursor"]]


@pytest.fixture
def served(health_settings: HealthSettings, clock: ManualClock) -> Iterator[tuple[str, Any]]:
    """The service under a real uvicorn, with a 2 s body read timeout."""
    settings = health_settings.model_copy(update={"body_read_timeout_s": 2.0})
    app = create_app(settings, clock=clock)
    with serving(app) as base_url:
        yield base_url, app


async def exchange(
    base_url: str, head: str, parts: Iterator[bytes], *, timeout_s: float = 10
) -> tuple[int, dict[str, Any], int]:
    """Send `head` then body parts until the server answers; return (status, JSON body,
    body bytes sent before the answer came)."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    sent = 0
    try:
        writer.write(head.encode())
        answer = asyncio.ensure_future(reader.read(65536))
        for part in parts:
            if answer.done():
                break
            try:
                writer.write(part)
                await writer.drain()
            except ConnectionError:
                break
            sent += len(part)
            await asyncio.sleep(0)
        raw = await asyncio.wait_for(answer, timeout_s)
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(payload), sent


def head(path: str, *, length: int | None, token: dict[str, str] | None) -> str:
    lines = [f"PUT {path} HTTP/1.1", "Host: health", "Content-Type: application/json"]
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    lines += [f"{k}: {v}" for k, v in (token or {}).items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def plain(total: int, part: int = 64 * 1024) -> Iterator[bytes]:
    for _ in range(total // part):
        yield b"x" * part


def chunked(total: int, part: int = 64 * 1024) -> Iterator[bytes]:
    for _ in range(total // part):
        yield f"{part:x}\r\n".encode() + b"x" * part + b"\r\n"


def admin_token(app: Any) -> dict[str, str]:
    settings: HealthSettings = app.state.settings
    token = issue_token(
        secret=settings.auth_secret.get_secret_value(),
        issuer=settings.auth_issuer,
        role="admin",
        subject="test-admin",
        now=app.state.clock.now(),
    )
    return {"Authorization": f"Bearer {token}"}


OVERRIDE = "/v1/admin/health/c1/override"


async def test_a_large_body_without_token_is_401_before_it_is_sent(
    served: tuple[str, Any],
) -> None:
    base_url, _ = served
    total = 60 * MiB
    status, body, sent = await exchange(
        base_url, head(OVERRIDE, length=total, token=None), plain(total)
    )
    assert (status, body["error"]) == (401, "unauthenticated")
    assert sent < total // 2, f"the server answered only after {sent} of {total} bytes"


async def test_a_large_body_with_token_is_413(served: tuple[str, Any]) -> None:
    base_url, app = served
    total = 60 * MiB
    status, body, sent = await exchange(
        base_url, head(OVERRIDE, length=total, token=admin_token(app)), plain(total)
    )
    assert (status, body["error"]) == (413, "payload_too_large")
    assert sent < total // 2, "a declared length past the limit is refused before reading"
    status, body, sent = await exchange(
        base_url, head(OVERRIDE, length=None, token=admin_token(app)), chunked(60 * MiB)
    )
    assert (status, body["error"]) == (413, "payload_too_large"), "chunked, no Content-Length"
    assert sent < total // 2


async def test_a_slow_body_is_cut_off_by_the_read_timeout(served: tuple[str, Any]) -> None:
    base_url, app = served

    def trickle() -> Iterator[bytes]:
        yield b'{"score": '  # and then nothing more

    status, body, _ = await exchange(
        base_url, head(OVERRIDE, length=200, token=admin_token(app)), trickle(), timeout_s=10
    )
    assert (status, body["error"]) == (408, "request_timeout")
