"""FastAPI dependencies that turn the bearer token into a Principal and enforce roles.

Settings and clock come from `request.app.state.settings` (a FourfoldSettings) and
`request.app.state.clock` (a `fourfold.clock.Clock`), both set by the app's lifespan.

    @router.get("/partners/{partner_id}/health")
    async def health(
        partner_id: str,
        principal: Annotated[Principal, Depends(require_roles("partner", "admin"))],
    ) -> Health:
        partner_scope(principal, partner_id, resource="partner")
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fourfold.auth.principal import ROLES, Principal, Role
from fourfold.auth.tokens import VerifiedTokens, verify_token
from fourfold.clock import Clock
from fourfold.errors import Forbidden, Unauthenticated
from fourfold.settings import FourfoldSettings

# auto_error=False: our own Unauthenticated renders {"error", "detail"} like every other error;
# the scheme still shows in OpenAPI so the docs page can send a token.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="FourfoldBearer",
    description="A Fourfold bearer token (signed JWT), issued with `fourfold token issue`.",
)

RoleDependency = Callable[[Principal], Coroutine[Any, Any, Principal]]


async def authenticated_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Verify the bearer token once per request so no route ever reads headers itself (the
    shell already verified it when the request carries a body: that principal is reused)."""
    verified = request.scope.get("state", {}).get("fourfold_principal")
    if isinstance(verified, Principal):
        return verified
    settings, clock = _auth_context(request)
    header = request.headers.get("authorization")
    return verify_bearer(
        None if header is None else header.encode("latin-1"), settings=settings, clock=clock
    )


def verify_bearer(
    header: bytes | None,
    *,
    settings: FourfoldSettings,
    clock: Clock,
    tokens: VerifiedTokens | None = None,
) -> Principal:
    """The Principal of an `Authorization: Bearer <token>` header value, or Unauthenticated;
    `tokens` (for this settings' secret and issuer) remembers the tokens already verified."""
    if header is None or not header.strip():
        raise Unauthenticated("missing bearer token")
    scheme, _, token = header.decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'")
    leeway = timedelta(seconds=settings.auth_clock_skew_s)
    if tokens is not None:
        return tokens.verify(token.strip(), now=clock.now(), leeway=leeway)
    return verify_token(
        token.strip(),
        secret=settings.auth_secret.get_secret_value(),
        issuer=settings.auth_issuer,
        now=clock.now(),
        leeway=leeway,
    )


def require_roles(*roles: Role) -> RoleDependency:
    """Build a dependency admitting only `roles`, so every route states who may call it."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles {unknown}; expected some of {', '.join(ROLES)}")
    allowed = frozenset(roles)
    listed = ", ".join(sorted(allowed))

    async def require(
        principal: Annotated[Principal, Depends(authenticated_principal)],
    ) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"role {principal.role!r} may not call this route (allowed: {listed})")
        return principal

    return require


def _auth_context(request: Request) -> tuple[FourfoldSettings, Clock]:
    state = request.app.state
    settings = getattr(state, "settings", None)
    clock = getattr(state, "clock", None)
    if not isinstance(settings, FourfoldSettings):
        raise RuntimeError("app.state.settings must hold a FourfoldSettings (set it in lifespan)")
    if clock is None or not callable(getattr(clock, "now", None)):
        raise RuntimeError("app.state.clock must hold a Clock with now() (set it in lifespan)")
    return settings, clock
