"""The app shell's own behaviour on a small app: the JSON catch-all with a request id, the
request id on log lines, unstorable strings in query and body models, local docs."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from fourfold.auth import issue_token
from fourfold.clock import ManualClock
from fourfold.logs import configure_logging
from fourfold.service.app_shell import install_shell
from fourfold.service.edge import authenticates_own_body, buffered_body
from fourfold.service.text import RequestModel
from fourfold.settings import FourfoldSettings
from fourfold.testing.errors import error_of

SECRET = "shell-test-secret-shell-test-secret-0123"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


class Note(RequestModel):
    text: str
    tags: list[str] = []


def _app() -> FastAPI:
    app = FastAPI(title="shell test")
    app.state.settings = FourfoldSettings(auth_secret=SecretStr(SECRET))
    app.state.clock = ManualClock(NOW)
    install_shell(app, service="shell-test", readiness=lambda _: [])

    @app.get("/boom")
    async def boom() -> None:
        """Fails as a bug would."""
        logging.getLogger("shell.test").info("about to fail")
        raise RuntimeError("a bug, not the client's fault")

    @app.get("/echo")
    async def echo(word: str) -> dict[str, str]:
        """Says the word back."""
        return {"word": word}

    @app.post("/webhook")
    @authenticates_own_body
    async def webhook(request: Request) -> dict[str, int]:
        """Checks a signature over the body itself (here: none)."""
        return {"bytes": len(await request.body())}

    @app.post("/buffered")
    async def buffered(request: Request) -> dict[str, str | None]:
        """Says what the shell buffered, beside what the request's own stream reads."""
        held = buffered_body(request.scope)
        return {
            "held": None if held is None else held.decode(),
            "read": (await request.body()).decode(),
        }

    @app.post("/notes")
    async def notes(note: Note) -> dict[str, str]:
        """Takes a note."""
        return {"text": note.text}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://shell") as client:
        yield client


def _token() -> dict[str, str]:
    token = issue_token(secret=SECRET, issuer="fourfold", role="admin", subject="t", now=NOW)
    return {"Authorization": f"Bearer {token}"}


async def test_an_unexpected_error_is_a_json_500_with_the_request_id_logged_as_json(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(service="shell-test", json=True)
    response = await client.get("/boom", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "req-42"
    body = response.json()
    assert body["error"] == "internal_error"
    assert "req-42" in body["detail"]
    assert "a bug" not in body["detail"], "internals stay in the log"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    lines = [line for line in lines if line["logger"] != "httpx"]  # the client's own line
    assert {line["message"]: line["request_id"] for line in lines} == {
        "about to fail": "req-42",
        "unhandled error": "req-42",
    }
    failure = next(line for line in lines if line["message"] == "unhandled error")
    assert failure["level"] == "ERROR"
    assert "RuntimeError: a bug" in failure["exc_info"]
    assert (failure["method"], failure["path"]) == ("GET", "/boom")


async def test_a_request_id_is_made_when_missing_or_not_a_sane_token(
    client: httpx.AsyncClient,
) -> None:
    made = (await client.get("/echo", params={"word": "hi"})).headers["x-request-id"]
    assert len(made) == 32
    odd = await client.get("/echo", params={"word": "hi"}, headers={"X-Request-ID": "a b"})
    assert odd.headers["x-request-id"] not in {"a b", made}


async def test_unstorable_strings_are_422s_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.get("/echo", params={"word": "a\x00"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "word"]
    for raw in (
        '{"text": "a\\u0000"}',
        '{"text": "\\udfff"}',
        '{"text": "ok", "tags": ["\\u0000"]}',
    ):
        response = await client.post(
            "/notes", content=raw, headers={**_token(), "content-type": "application/json"}
        )
        assert response.status_code == 422, raw
        assert [e["loc"] for e in response.json()["detail"]] in (
            [["body", "text"]],
            [["body", "tags"]],
        )
    ok = await client.post("/notes", json={"text": "fine ☃"}, headers=_token())
    assert ok.status_code == 200


async def test_a_body_without_token_is_refused_before_validation(client: httpx.AsyncClient) -> None:
    response = await client.post("/notes", json={"text": "x"})
    assert response.status_code == 401
    assert error_of(response) == {"error": "unauthenticated", "detail": "missing bearer token"}


def test_uvicorns_own_lines_go_through_the_json_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain = logging.StreamHandler()
    logging.getLogger("uvicorn.error").handlers[:] = [plain]  # as uvicorn's config leaves it
    logging.getLogger("uvicorn.error").propagate = False
    configure_logging(service="shell-test", json=True)
    logging.getLogger("uvicorn.error").error("Exception in ASGI application")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["logger"], line["service"]) == ("uvicorn.error", "shell-test")


async def test_a_route_that_authenticates_its_own_body_gets_it_without_a_token(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/webhook", content=b"x" * 100)
    assert (response.status_code, response.json()) == (200, {"bytes": 100})
    too_large = await client.post("/webhook", content=b"x" * (1024 * 1024 + 1))
    assert too_large.status_code == 413, "still bounded"


async def test_the_body_the_shell_read_is_the_one_the_route_reads(
    client: httpx.AsyncClient,
) -> None:
    sent = await client.post("/buffered", content=b'{"a": 1}', headers=_token())
    assert sent.json() == {"held": '{"a": 1}', "read": '{"a": 1}'}
    empty = await client.post("/buffered", headers=_token())
    assert empty.json() == {"held": None, "read": ""}, "no body declared: none buffered"


def _requests_counted(text: str, *, route: str, status: str) -> float:
    wanted = f'method="GET",route="{route}",service="shell-test",status="{status}"'
    for line in text.splitlines():
        if line.startswith("fourfold_http_requests_total{") and wanted in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    before = (await client.get("/metrics")).text
    for word in ("a", "b"):
        assert (await client.get("/echo", params={"word": word})).status_code == 200
    assert (await client.get("/echo")).status_code == 422
    assert (await client.get("/nowhere")).status_code == 404
    after = (await client.get("/metrics")).text
    counted = {
        (route, status): _requests_counted(after, route=route, status=status)
        - _requests_counted(before, route=route, status=status)
        for route, status in (("/echo", "200"), ("/echo", "422"), ("unmatched", "404"))
    }
    assert counted == {("/echo", "200"): 2, ("/echo", "422"): 1, ("unmatched", "404"): 1}


async def test_a_token_past_its_rate_limit_gets_429_with_retry_after() -> None:
    app = _app()
    app.state.settings = FourfoldSettings(
        auth_secret=SecretStr(SECRET), rate_limit_admin_per_minute=3
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://shell") as client:
        answers = [
            await client.get("/echo", params={"word": "hi"}, headers=_token()) for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [200, 200, 200]
        refused = await client.post("/notes", json={"text": "x"}, headers=_token())
        assert refused.status_code == 429
        assert refused.json()["error"] == "rate_limited"
        assert int(refused.headers["retry-after"]) == 20  # 3 per minute: one per 20 s
        assert refused.headers["x-request-id"]
        other = issue_token(secret=SECRET, issuer="fourfold", role="admin", subject="u", now=NOW)
        fresh = await client.get(
            "/echo", params={"word": "hi"}, headers={"Authorization": f"Bearer {other}"}
        )
        assert fresh.status_code == 200, "another subject has its own bucket"
        anonymous = await client.get("/healthz")
        assert anonymous.status_code == 200, "no token, no bucket"
