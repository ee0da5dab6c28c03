"""Route guards through a real FastAPI app: 401 without a valid token, 403 for the wrong role,
and partner scoping that hides other partners' data behind a 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import SecretStr

from fourfold.auth import (
    Principal,
    Role,
    issue_token,
    partner_filter,
    partner_scope,
    require_roles,
)
from fourfold.clock import ManualClock
from fourfold.errors import Forbidden, NotFound, install_error_handlers
from fourfold.settings import FourfoldSettings
from fourfold.testing.errors import error_of

SECRET = "dependency-test-secret-dependency-test-secret"
ISSUER = "fourfold-test"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _app(clock: ManualClock) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = FourfoldSettings(auth_secret=SecretStr(SECRET), auth_issuer=ISSUER)
    app.state.clock = clock

    @app.post("/events")
    async def ingest(
        principal: Annotated[Principal, Depends(require_roles("ingest"))],
    ) -> dict[str, str]:
        """Only the vendor's ingest credential writes events."""
        return {"subject": principal.subject}

    @app.get("/partners/{partner_id}/health")
    async def health(
        partner_id: str,
        principal: Annotated[Principal, Depends(require_roles("partner", "admin"))],
    ) -> dict[str, str]:
        """A partner reads its own health; admins read anyone's."""
        partner_scope(principal, partner_id, resource="partner")
        return {"partner_id": partner_id}

    return app


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def client(clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _bearer(role: Role, *, partner_id: str | None = None, **kwargs: Any) -> dict[str, str]:
    token = issue_token(
        secret=kwargs.pop("secret", SECRET),
        issuer=ISSUER,
        role=role,
        subject=f"{role}-user",
        partner_id=partner_id,
        now=kwargs.pop("now", START),
        **kwargs,
    )
    return {"Authorization": f"Bearer {token}"}


async def test_no_header_is_401_with_the_error_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/events")
    assert response.status_code == 401
    assert error_of(response) == {"error": "unauthenticated", "detail": "missing bearer token"}
    assert response.headers["www-authenticate"] == "Bearer"


async def test_non_bearer_scheme_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/events", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status_code == 401
    assert response.json()["detail"] == "Authorization header must be 'Bearer <token>'"


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"Authorization": "Bearer not-a-jwt"}, "malformed token"),
        (_bearer("ingest", secret="x" * 40), "bad token signature"),
    ],
)
async def test_bad_token_is_401(
    client: httpx.AsyncClient, headers: dict[str, str], detail: str
) -> None:
    response = await client.post("/events", headers=headers)
    assert response.status_code == 401
    assert error_of(response) == {"error": "unauthenticated", "detail": detail}


async def test_expiry_follows_the_app_clock(client: httpx.AsyncClient, clock: ManualClock) -> None:
    headers = _bearer("ingest", ttl=timedelta(hours=1))
    assert (await client.post("/events", headers=headers)).status_code == 200
    clock.advance(timedelta(hours=1))
    response = await client.post("/events", headers=headers)
    assert response.status_code == 401
    assert error_of(response) == {"error": "unauthenticated", "detail": "token expired"}


@pytest.mark.parametrize(
    ("role", "partner_id"), [("partner", "p-1"), ("admin", None)], ids=["partner", "admin"]
)
async def test_wrong_role_is_403(
    client: httpx.AsyncClient, role: Role, partner_id: str | None
) -> None:
    response = await client.post("/events", headers=_bearer(role, partner_id=partner_id))
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "forbidden"
    assert f"role '{role}' may not call this route" in body["detail"]


async def test_ingest_may_not_read_partner_routes(client: httpx.AsyncClient) -> None:
    response = await client.get("/partners/p-1/health", headers=_bearer("ingest"))
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "role 'ingest' may not call this route (allowed: admin, partner)"
    )


async def test_right_role_is_200_and_gets_the_principal(client: httpx.AsyncClient) -> None:
    response = await client.post("/events", headers=_bearer("ingest"))
    assert response.status_code == 200
    assert response.json() == {"subject": "ingest-user"}


async def test_partner_reads_its_own_partner(client: httpx.AsyncClient) -> None:
    headers = _bearer("partner", partner_id="p-1")
    response = await client.get("/partners/p-1/health", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"partner_id": "p-1"}


async def test_partner_gets_404_for_another_partner(client: httpx.AsyncClient) -> None:
    headers = _bearer("partner", partner_id="p-1")
    response = await client.get("/partners/p-2/health", headers=headers)
    assert response.status_code == 404
    assert error_of(response) == {"error": "not_found", "detail": "partner not found"}


@pytest.mark.parametrize("partner_id", ["p-1", "p-2"])
async def test_admin_reads_every_partner(client: httpx.AsyncClient, partner_id: str) -> None:
    response = await client.get(f"/partners/{partner_id}/health", headers=_bearer("admin"))
    assert response.status_code == 200


async def test_missing_app_state_is_a_loud_wiring_error() -> None:
    app = FastAPI()

    @app.get("/")
    async def root(principal: Annotated[Principal, Depends(require_roles("admin"))]) -> None:
        """Unreachable: the app forgot to set settings and clock."""

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError, match=r"app\.state\.settings"):
            await client.get("/", headers=_bearer("admin"))


@pytest.mark.parametrize("roles", [(), ("root",)], ids=["no-roles", "unknown-role"])
def test_require_roles_refuses_bad_declarations(roles: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError, match="role"):
        require_roles(*roles)


def test_partner_scope_rules() -> None:
    admin = Principal(subject="ops", role="admin")
    partner = Principal(subject="jane", role="partner", partner_id="p-1")
    ingest = Principal(subject="vendor", role="ingest")
    partner_scope(admin, "p-2")
    partner_scope(partner, "p-1")
    with pytest.raises(NotFound, match="customer not found"):
        partner_scope(partner, "p-2", resource="customer")
    with pytest.raises(Forbidden):
        partner_scope(ingest, "p-1")


def test_partner_filter_rules() -> None:
    assert partner_filter(Principal(subject="ops", role="admin")) is None
    assert partner_filter(Principal(subject="jane", role="partner", partner_id="p-1")) == "p-1"
    with pytest.raises(Forbidden):
        partner_filter(Principal(subject="vendor", role="ingest"))


async def test_the_clock_skew_leeway_comes_from_settings(clock: ManualClock) -> None:
    app = _app(clock)
    app.state.settings = FourfoldSettings(
        auth_secret=SecretStr(SECRET), auth_issuer=ISSUER, auth_clock_skew_s=5
    )
    ahead = _bearer("ingest", now=START + timedelta(seconds=30))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/events", headers=ahead)
        assert response.status_code == 401
        assert "issued in the future" in response.json()["detail"]
        clock.advance(timedelta(seconds=26))
        assert (await client.post("/events", headers=ahead)).status_code == 200
