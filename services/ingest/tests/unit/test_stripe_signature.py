"""The Stripe-Signature verifier, table by table (signatures computed here with hashlib)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fourfold.ingest.adapters.stripe_signature import (
    SignatureRejected,
    check_signature,
    check_timestamp,
    parse_header,
)

SECRET, OTHER = "whsec_current", "whsec_rolled"
BODY = b'{"id":"evt_1","type":"invoice.paid"}'
T = 1_764_547_300


def v1(body: bytes, secret: str, t: int = T) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def verify(
    header: str, body: bytes = BODY, *, now: float = T, secrets: tuple[str, ...] = (SECRET,)
) -> None:
    parsed = parse_header(header)
    check_timestamp(parsed, now=now, tolerance_s=300)
    check_signature(parsed, body, secrets=secrets)


@pytest.mark.parametrize(
    "header",
    [
        f"t={T},v1={v1(BODY, SECRET)}",
        f"t={T},v1={v1(BODY, OTHER)},v1={v1(BODY, SECRET)}",  # Stripe rolling its secret
        f"t={T},v0={'ab' * 32},v1={v1(BODY, SECRET)}",  # other schemes are ignored
        f" t={T} , v1={v1(BODY, SECRET).upper()} ",
    ],
)
def test_a_signature_stripe_computed_verifies(header: str) -> None:
    verify(header)


@pytest.mark.parametrize(
    ("header", "body", "now", "reason"),
    [
        ("", BODY, T, "missing"),
        (f"v1={v1(BODY, SECRET)}", BODY, T, "malformed"),
        (f"t=yesterday,v1={v1(BODY, SECRET)}", BODY, T, "malformed"),
        (f"t={T},v0={v1(BODY, SECRET)}", BODY, T, "malformed"),
        (f"t={T},v1={v1(BODY, OTHER)}", BODY, T, "mismatch"),
        (f"t={T},v1={v1(BODY, SECRET)}", BODY + b" ", T, "mismatch"),
        (f"t={T + 1},v1={v1(BODY, SECRET)}", BODY, T, "mismatch"),  # timestamp is signed
        (f"t={T},v1={v1(BODY, SECRET)}", BODY, T + 301, "stale"),
        (f"t={T},v1={v1(BODY, SECRET)}", BODY, T - 301, "stale"),
    ],
)
def test_every_bad_signature_is_refused_with_its_reason(
    header: str, body: bytes, now: float, reason: str
) -> None:
    with pytest.raises(SignatureRejected) as refused:
        verify(header, body, now=now)
    assert refused.value.reason == reason
    assert refused.value.detail


def test_our_previous_secret_still_verifies_during_our_rotation() -> None:
    verify(f"t={T},v1={v1(BODY, OTHER)}", secrets=(SECRET, OTHER))


@given(body=st.binary(max_size=512), flip=st.integers(min_value=0, max_value=511))
def test_any_change_to_the_body_breaks_the_signature(body: bytes, flip: int) -> None:
    header = f"t={T},v1={v1(body, SECRET)}"
    verify(header, body)
    if body:
        index = flip % len(body)
        changed = body[:index] + bytes([body[index] ^ 1]) + body[index + 1 :]
        with pytest.raises(SignatureRejected):
            verify(header, changed)
