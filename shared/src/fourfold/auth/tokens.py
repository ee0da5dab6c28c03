"""Bearer tokens as HS256-signed JWTs, so every service verifies callers without a shared table.

Claims: `iss`, `sub` (free-text principal name), `role`, `partner_id` (exactly when the
role is `partner`), `jti`, `iat` and an optional `exp`. Time always comes from the caller's
clock: PyJWT's own wall-clock checks are switched off, `exp` is checked against `now` and
`iat` may be ahead of `now` by the clock-skew leeway at most.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import jwt

from fourfold.auth.principal import ROLES, Principal, Role
from fourfold.errors import Unauthenticated

if TYPE_CHECKING:
    from jwt.types import Options

ALGORITHM: Final = "HS256"
MIN_SECRET_BYTES: Final = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash.
DEFAULT_CLOCK_SKEW: Final = timedelta(seconds=60)
"""How far a token's `iat` may be ahead of the verifier's clock (FOURFOLD_AUTH_CLOCK_SKEW_S)."""

_DECODE_OPTIONS: Final[Options] = {
    "require": ["iss", "sub", "role", "jti", "iat"],
    # PyJWT reads the wall clock for these; Fourfold checks time against the injected `now`.
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
}


def issue_token(
    *,
    secret: str,
    issuer: str,
    role: Role,
    subject: str,
    partner_id: str | None = None,
    ttl: timedelta | None = None,
    now: datetime,
) -> str:
    """Sign a bearer token for one principal; `ttl=None` never expires (revoke by rotation)."""
    _check_secret(secret)
    _check_aware(now)
    principal = Principal(subject=subject, role=role, partner_id=partner_id)
    if ttl is not None and ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": principal.subject,
        "role": principal.role,
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
    }
    if principal.partner_id is not None:
        claims["partner_id"] = principal.partner_id
    if ttl is not None:
        claims["exp"] = int((now + ttl).timestamp())
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(
    token: str,
    *,
    secret: str,
    issuer: str,
    now: datetime,
    leeway: timedelta = DEFAULT_CLOCK_SKEW,
) -> Principal:
    """Turn a bearer token into a Principal, or raise Unauthenticated saying what is wrong.

    `leeway` is how far `iat` may lie ahead of `now` (the issuer's clock running fast); a
    token issued later than that is refused, so a stolen signing moment cannot mint tokens
    that only start to look old in years."""
    _check_secret(secret)
    _check_aware(now)
    claims, principal = _decode(token, secret, issuer)
    _check_times(claims, now, leeway)
    return principal


class VerifiedTokens:
    """The tokens that verified under one secret and issuer, so a caller sending the same
    token on every request pays for its HMAC and JSON decoding once (a sixth of a small
    request's CPU). The time checks (`iat` not ahead, `exp` not passed) run on every use, a
    token failing them is forgotten, and only the `size` most recently used are kept."""

    def __init__(self, *, secret: str, issuer: str, size: int = 4096) -> None:
        _check_secret(secret)
        if size < 1:
            raise ValueError("size must be at least 1")
        self.secret, self.issuer = secret, issuer
        self._size = size
        self._seen: OrderedDict[str, tuple[dict[str, Any], Principal]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def verify(
        self, token: str, *, now: datetime, leeway: timedelta = DEFAULT_CLOCK_SKEW
    ) -> Principal:
        """As `verify_token` with this secret and issuer."""
        _check_aware(now)
        seen = self._seen.get(token)
        verified = seen or _decode(token, self.secret, self.issuer)
        claims, principal = verified
        try:
            _check_times(claims, now, leeway)
        except Unauthenticated:
            self._seen.pop(token, None)
            raise
        if seen is None:
            self._seen[token] = verified
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(token)
        return principal


def _decode(token: str, secret: str, issuer: str) -> tuple[dict[str, Any], Principal]:
    """The claims and Principal of a token whose signature and issuer verify (no time check)."""
    if not token or not token.strip():
        raise Unauthenticated("missing bearer token")
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=issuer, options=_DECODE_OPTIONS
        )
    except jwt.InvalidSignatureError:
        raise Unauthenticated("bad token signature") from None
    except jwt.InvalidAlgorithmError:
        raise Unauthenticated(f"token must be signed with {ALGORITHM}") from None
    except jwt.DecodeError:
        raise Unauthenticated("malformed token") from None
    except jwt.InvalidIssuerError:
        raise Unauthenticated("wrong token issuer") from None
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthenticated(f"bad token claims: missing {exc.claim!r}") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated(f"bad token claims: {exc}") from None
    return claims, _principal_from(claims)


def _check_times(claims: dict[str, Any], now: datetime, leeway: timedelta) -> None:
    _check_issued_at(claims, now, leeway)
    _check_expiry(claims, now)


def _check_issued_at(claims: dict[str, Any], now: datetime, leeway: timedelta) -> None:
    iat = claims["iat"]
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise Unauthenticated("bad token claims: 'iat' must be a number")
    if iat > now.timestamp() + leeway.total_seconds():
        raise Unauthenticated(
            f"token issued in the future ('iat' more than {leeway.total_seconds():g} s "
            "ahead of this service's clock)"
        )


def _check_expiry(claims: dict[str, Any], now: datetime) -> None:
    exp = claims.get("exp")
    if exp is None:
        return
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise Unauthenticated("bad token claims: 'exp' must be a number")
    if now.timestamp() >= exp:
        raise Unauthenticated("token expired")


def _principal_from(claims: dict[str, Any]) -> Principal:
    subject, role, partner_id = claims["sub"], claims["role"], claims.get("partner_id")
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("bad token claims: 'sub' must be a non-empty string")
    if role not in ROLES:
        raise Unauthenticated(f"bad token claims: 'role' must be one of {', '.join(ROLES)}")
    if partner_id is not None and (not isinstance(partner_id, str) or not partner_id):
        raise Unauthenticated("bad token claims: 'partner_id' must be a non-empty string")
    try:
        return Principal(subject=subject, role=role, partner_id=partner_id)
    except ValueError as exc:
        raise Unauthenticated(f"bad token claims: {exc}") from None


def _check_secret(secret: str) -> None:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"the auth secret must be at least {MIN_SECRET_BYTES} bytes for HS256")


def _check_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (use the injected clock)")
