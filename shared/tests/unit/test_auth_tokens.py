"""Bearer tokens: what is issued verifies, and every bad token is refused with a clear reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from fourfold.auth import Principal, Role, issue_token, verify_token
from fourfold.auth.tokens import VerifiedTokens
from fourfold.cli import main as fourfold
from fourfold.errors import Unauthenticated

SECRET = "test-secret-" * 6  # 72 bytes: long enough for the HS512 forgery too
OTHER_SECRET = "another-secret-another-secret-another"
ISSUER = "fourfold-test"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _issue(**overrides: Any) -> str:
    kwargs: dict[str, Any] = {
        "secret": SECRET,
        "issuer": ISSUER,
        "role": "admin",
        "subject": "ops@vendor",
        "now": NOW,
    }
    return issue_token(**(kwargs | overrides))


def _verify(token: str, *, now: datetime = NOW) -> Principal:
    return verify_token(token, secret=SECRET, issuer=ISSUER, now=now)


def _forge(claims: dict[str, Any], *, secret: str = SECRET, algorithm: str = "HS256") -> str:
    base = {"iss": ISSUER, "sub": "someone", "role": "admin", "jti": "j1", "iat": 0}
    return jwt.encode({k: v for k, v in (base | claims).items() if v is not ...}, secret, algorithm)


@pytest.mark.parametrize(
    ("role", "partner_id"), [("ingest", None), ("partner", "p-42"), ("admin", None)]
)
def test_round_trip_per_role(role: Role, partner_id: str | None) -> None:
    token = _issue(role=role, subject="Jane Doe (Acme)", partner_id=partner_id)
    assert _verify(token) == Principal(subject="Jane Doe (Acme)", role=role, partner_id=partner_id)


def test_token_carries_the_expected_claims() -> None:
    token = _issue(role="partner", partner_id="p-1", ttl=timedelta(hours=1))
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["iss"] == ISSUER
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["exp"] == int((NOW + timedelta(hours=1)).timestamp())
    assert claims["partner_id"] == "p-1"
    assert isinstance(claims["jti"], str)
    assert claims["jti"]


def test_each_token_gets_its_own_jti() -> None:
    decode = jwt.decode
    a, b = (decode(_issue(), SECRET, algorithms=["HS256"])["jti"] for _ in range(2))
    assert a != b


def test_without_ttl_the_token_has_no_exp_and_keeps_verifying() -> None:
    token = _issue()
    assert "exp" not in jwt.decode(token, SECRET, algorithms=["HS256"])
    assert _verify(token, now=NOW + timedelta(days=3650)).role == "admin"


def test_expiry_is_judged_by_the_injected_clock() -> None:
    token = _issue(ttl=timedelta(minutes=5))
    assert _verify(token, now=NOW + timedelta(minutes=4, seconds=59)).role == "admin"
    with pytest.raises(Unauthenticated, match="token expired"):
        _verify(token, now=NOW + timedelta(minutes=5))


BAD_TOKENS = pytest.mark.parametrize(
    ("token", "detail"),
    [
        pytest.param("", "missing bearer token", id="empty"),
        pytest.param("   ", "missing bearer token", id="blank"),
        pytest.param("not-a-jwt", "malformed token", id="one-segment"),
        pytest.param("a.b.c", "malformed token", id="garbage-segments"),
        pytest.param(_forge({}, secret=OTHER_SECRET), "bad token signature", id="other-secret"),
        pytest.param(_forge({"iss": "someone-else"}), "wrong token issuer", id="wrong-issuer"),
        pytest.param(_forge({}, algorithm="HS512"), "token must be signed with HS256", id="hs512"),
        pytest.param(jwt.encode({"sub": "x"}, None, "none"), "HS256", id="alg-none"),
    ],
)


@BAD_TOKENS
def test_bad_tokens_are_unauthenticated(token: str, detail: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        _verify(token)
    assert detail in caught.value.detail
    assert caught.value.status_code == 401


def test_tampered_payload_fails_the_signature() -> None:
    header, _, signature = _issue(role="ingest").split(".")
    forged_payload = _forge({"role": "admin"}).split(".")[1]
    with pytest.raises(Unauthenticated, match="bad token signature"):
        _verify(f"{header}.{forged_payload}.{signature}")


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        pytest.param({"sub": ...}, "missing 'sub'", id="no-sub"),
        pytest.param({"role": ...}, "missing 'role'", id="no-role"),
        pytest.param({"jti": ...}, "missing 'jti'", id="no-jti"),
        pytest.param({"iss": ...}, "missing 'iss'", id="no-iss"),
        pytest.param({"sub": ""}, "'sub' must be a non-empty string", id="empty-sub"),
        pytest.param({"role": "root"}, "'role' must be one of", id="unknown-role"),
        pytest.param({"role": "partner"}, "needs a partner_id", id="partner-no-partner-id"),
        pytest.param({"role": "partner", "partner_id": ""}, "'partner_id'", id="empty-partner"),
        pytest.param({"role": "partner", "partner_id": 7}, "'partner_id'", id="int-partner"),
        pytest.param({"role": "admin", "partner_id": "p-1"}, "must not carry", id="admin-scoped"),
        pytest.param({"exp": "tomorrow"}, "'exp' must be a number", id="string-exp"),
        pytest.param({"sub": 5}, "bad token claims", id="int-sub"),
    ],
)
def test_bad_claims_are_unauthenticated(claims: dict[str, Any], detail: str) -> None:
    with pytest.raises(Unauthenticated, match="bad token claims") as caught:
        _verify(_forge(claims))
    assert detail in caught.value.detail


def test_partner_without_partner_id_is_refused_at_issue() -> None:
    with pytest.raises(ValueError, match="needs a partner_id"):
        _issue(role="partner")


@pytest.mark.parametrize("role", ["ingest", "admin"])
def test_partner_id_on_other_roles_is_refused_at_issue(role: Role) -> None:
    with pytest.raises(ValueError, match="must not carry a partner_id"):
        _issue(role=role, partner_id="p-1")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"secret": "short"}, "at least 32 bytes"),
        ({"now": datetime(2026, 3, 1)}, "aware datetime"),  # noqa: DTZ001 - the naive case
        ({"ttl": timedelta(0)}, "ttl must be positive"),
        ({"subject": ""}, "subject must not be empty"),
    ],
)
def test_issue_refuses_bad_arguments(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _issue(**overrides)


def test_verify_refuses_a_short_secret_as_misconfiguration_not_401() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        verify_token(_issue(), secret="short", issuer=ISSUER, now=NOW)


def test_principal_helpers() -> None:
    admin = Principal(subject="ops", role="admin")
    partner = Principal(subject="jane", role="partner", partner_id="p-1")
    ingest = Principal(subject="vendor", role="ingest")
    assert (admin.is_admin, admin.is_partner) == (True, False)
    assert (partner.is_admin, partner.is_partner) == (False, True)
    assert admin.can_see_partner("p-1")
    assert admin.can_see_partner("p-2")
    assert partner.can_see_partner("p-1")
    assert not partner.can_see_partner("p-2")
    assert not ingest.can_see_partner("p-1")


def test_cli_prints_a_token_signed_with_the_settings_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FOURFOLD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("FOURFOLD_AUTH_ISSUER", ISSUER)
    argv = ["--role", "partner", "--subject", "Jane", "--partner-id", "p-9", "--ttl-days", "30"]
    assert fourfold(["token", "issue", *argv]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer=ISSUER)
    assert (claims["role"], claims["sub"], claims["partner_id"]) == ("partner", "Jane", "p-9")
    assert claims["exp"] - claims["iat"] == 30 * 86400


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--role", "partner", "--subject", "Jane"], "required for --role partner"),
        (["--role", "admin", "--subject", "ops", "--partner-id", "p"], "only allowed"),
        (["--role", "admin", "--subject", "ops", "--ttl-days", "0"], "must be positive"),
        (["--role", "root", "--subject", "ops"], "'root' is not one of"),
        (["--subject", "ops"], "Missing option '--role'"),
    ],
)
def test_cli_usage_errors_exit_2_and_print_no_token(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps errors to the terminal's width
    assert fourfold(["token", "issue", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err


def test_a_token_issued_in_the_future_is_refused_beyond_the_leeway() -> None:
    far = _issue(now=NOW + timedelta(seconds=1_000_000))
    with pytest.raises(Unauthenticated, match="issued in the future") as caught:
        _verify(far)
    assert "60 s" in caught.value.detail, "the detail names the leeway"
    assert _verify(_issue(now=NOW + timedelta(seconds=59))).role == "admin", "within leeway"
    with pytest.raises(Unauthenticated, match="issued in the future"):
        _verify(_issue(now=NOW + timedelta(seconds=61)))
    strict = verify_token(_issue(), secret=SECRET, issuer=ISSUER, now=NOW, leeway=timedelta(0))
    assert strict.role == "admin", "iat == now passes even with no leeway"
    with pytest.raises(Unauthenticated, match="'iat' must be a number"):
        _verify(_forge({"iat": "now"}))


@pytest.mark.parametrize(("role", "article"), [("ingest", "an"), ("admin", "an")])
def test_the_refusal_of_a_scoped_non_partner_reads_right(role: Role, article: str) -> None:
    with pytest.raises(ValueError, match=f"^{article} {role} principal must not carry"):
        Principal(subject="x", role=role, partner_id="p-1")


# ---------------------------------------------------------------- the verified-token cache


def _cache(size: int = 4096, secret: str = SECRET) -> VerifiedTokens:
    return VerifiedTokens(secret=secret, issuer=ISSUER, size=size)


@BAD_TOKENS
def test_the_cache_refuses_bad_tokens_alike_and_keeps_none(token: str, detail: str) -> None:
    tokens = _cache()
    for _ in range(2):
        with pytest.raises(Unauthenticated) as caught:
            tokens.verify(token, now=NOW)
        assert detail in caught.value.detail
    assert len(tokens) == 0


def test_a_cached_token_answers_as_verify_and_still_expires_by_the_clock() -> None:
    tokens, token = _cache(), _issue(role="partner", partner_id="p-7", ttl=timedelta(minutes=5))
    first = tokens.verify(token, now=NOW)
    assert first == _verify(token) == Principal("ops@vendor", "partner", "p-7")
    assert tokens.verify(token, now=NOW + timedelta(minutes=4)) == first
    assert len(tokens) == 1
    with pytest.raises(Unauthenticated, match="token expired"):
        tokens.verify(token, now=NOW + timedelta(minutes=5))
    assert len(tokens) == 0  # forgotten once it failed


def test_a_token_from_the_future_is_not_kept_and_verifies_once_its_time_comes() -> None:
    tokens, token = _cache(), _issue(now=NOW + timedelta(minutes=10))
    with pytest.raises(Unauthenticated, match="issued in the future"):
        tokens.verify(token, now=NOW)
    assert len(tokens) == 0
    assert tokens.verify(token, now=NOW + timedelta(minutes=10)).role == "admin"


def test_a_token_signed_with_another_secret_is_refused_by_this_secrets_cache() -> None:
    token = _issue()
    assert _cache().verify(token, now=NOW).role == "admin"
    with pytest.raises(Unauthenticated, match="bad token signature"):
        _cache(secret=OTHER_SECRET).verify(token, now=NOW)


def test_the_cache_keeps_the_most_recently_used_tokens_only() -> None:
    tokens = _cache(size=2)
    a, b, c = (_issue(subject=name) for name in ("a", "b", "c"))
    tokens.verify(a, now=NOW)
    tokens.verify(b, now=NOW)
    tokens.verify(a, now=NOW)  # a is now the most recent: b goes first
    tokens.verify(c, now=NOW)
    assert len(tokens) == 2
    assert tokens.verify(b, now=NOW).subject == "b"  # verified again from scratch
    assert len(tokens) == 2
