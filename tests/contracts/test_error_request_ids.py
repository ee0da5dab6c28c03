"""Every error body of every service quotes `request_id`, equal to the answer's X-Request-ID:
made up when the client sent none (or an insane one), the client's own when it sent one.

One error of each kind, on each service's app (not started, so no database: the routes that
need one fail, which is the catch-all's case): the error tree raised by a route, the shell
refusing before the route (401 before the body, 413, 422 unstorable parameter, 429), the
router's own 404 and 405, the catch-all 500 and /readyz's 503. Request validation (422 from
FastAPI) needs a started service: tests/gateway covers it on each, direct and through Caddy.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from fourfold.auth import Role, issue_token
from fourfold.dev.openapi import APPS, build_app
from fourfold.testing.errors import error_of

pytestmark = pytest.mark.parametrize("service", sorted(APPS))

ADMIN_LIMIT = 3
"""Admin requests per minute in these apps: the 429 case spends the bucket of one token."""


def _token(app: object, role: Role) -> dict[str, str]:
    settings = app.state.settings  # type: ignore[attr-defined]
    token = issue_token(
        secret=settings.auth_secret.get_secret_value(),
        issuer=settings.auth_issuer,
        role=role,
        subject=f"ids-{uuid.uuid4().hex[:8]}",
        now=datetime.now(UTC),
    )
    return {"Authorization": f"Bearer {token}"}


READS = {
    "ingest": "/v1/admin/webhooks/unmapped",
    "health-scoring": "/v1/partners/p-any/customers",
    "incentives": "/v1/incentives/partners/p-any/entries",
    "notifications": "/v1/admin/notifications/deliveries",
}
"""A read of each service that an admin token may make and that needs the database."""
NOT_READY = {"ingest": 500}
"""/readyz of an app whose lifespan never ran: 503 `not_ready`, but ingest's readiness
check reads its runtime before asking whether it started (500, the catch-all's answer)."""


async def _cases(
    client: httpx.AsyncClient, app: object, service: str, **headers: str
) -> list[httpx.Response]:
    admin, ingest = _token(app, "admin"), _token(app, "ingest")
    protected = READS[service]
    limit = app.state.settings.max_body_bytes  # type: ignore[attr-defined]
    spent = _token(app, "admin")
    for _ in range(ADMIN_LIMIT):
        await client.get("/healthz", headers=spent)
    answers = [
        await client.get(protected, headers=headers),  # 401 raised by the route
        await client.get(protected, headers={**ingest, **headers}),  # 403 raised by the route
        await client.post("/anywhere", content=b"{}", headers=headers),  # 401 before the body
        await client.post(
            "/anywhere",
            content=b" " * (limit + 1),
            headers={**admin, "Content-Type": "application/json", **headers},
        ),  # 413 at the shell
        await client.get("/healthz?name=a%00", headers=headers),  # 422 at the shell
        await client.get("/healthz", headers={**spent, **headers}),  # 429 at the shell
        await client.get("/nowhere", headers=headers),  # 404 from the router
        await client.delete("/healthz", headers=headers),  # 405 from the router
        await client.get(protected, headers={**admin, **headers}),  # 500: no database
        await client.get("/readyz", headers=headers),  # 503: not started
    ]
    statuses = [answer.status_code for answer in answers]
    ready = NOT_READY.get(service, 503)
    assert statuses == [401, 403, 401, 413, 422, 429, 404, 405, 500, ready], statuses
    return answers


async def test_every_kind_of_error_quotes_the_id_it_answers_with(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOURFOLD_RATE_LIMIT_ADMIN_PER_MINUTE", str(ADMIN_LIMIT))
    app = build_app(service)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        made = await _cases(client, app, service)
        mine = await _cases(client, app, service, **{"X-Request-ID": f"client-{service}-1"})
        insane = await _cases(client, app, service, **{"X-Request-ID": "not sane"})
    for answer in [*made, *mine, *insane]:
        assert set(error_of(answer)) == {"error", "detail"}, answer.text
    assert len({answer.headers["x-request-id"] for answer in made}) == len(made), "one each"
    assert {answer.json()["request_id"] for answer in mine} == {f"client-{service}-1"}
    assert "not sane" not in {answer.json()["request_id"] for answer in insane}
