"""Stripe-Signature verification, as Stripe documents it ("Verify manually").

The header is `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`. The signed payload is
`<t>.<raw body>`; the expected signature is HMAC-SHA256 of it with the endpoint's signing
secret, hex. Any `v1` may match (Stripe sends one per active secret while a secret is
rolled); other schemes are ignored. The timestamp must be within the tolerance of now, in
either direction (as Stripe's own libraries check it), so a captured delivery cannot be
replayed later. Comparison is constant-time.

Why not the `stripe` package: its verifier is these thirty lines, and the SDK would bring an
HTTP client and hundreds of modules into ingest for them; the scheme is a documented,
versioned contract that the tests check against signatures computed independently.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass


class SignatureRejected(ValueError):
    """Why a delivery is not Stripe's: the text goes to the 400 body and the log."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # a metric label: missing | malformed | stale | mismatch
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    timestamp: int
    signatures: tuple[str, ...]  # the v1 ones


def parse_header(header: str | None) -> SignatureHeader:
    if not header:
        raise SignatureRejected("missing", "no Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            if not value.isdigit():
                raise SignatureRejected("malformed", "Stripe-Signature t= is not a unix time")
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value.lower())
    if timestamp is None:
        raise SignatureRejected("malformed", "Stripe-Signature header has no t= timestamp")
    if not signatures:
        raise SignatureRejected("malformed", "Stripe-Signature header has no v1 signature")
    return SignatureHeader(timestamp, tuple(signatures))


def check_timestamp(header: SignatureHeader, *, now: float, tolerance_s: int) -> None:
    """Refuse a delivery signed too long ago (or in the future) before reading its body."""
    age = now - header.timestamp
    if abs(age) > tolerance_s:
        raise SignatureRejected(
            "stale",
            f"Stripe-Signature timestamp is {int(age)} s from now, outside the "
            f"{tolerance_s} s tolerance (a replay, or a clock out of sync)",
        )


def sign(payload: bytes, *, secret: str, timestamp: int) -> str:
    """The v1 signature of `payload` at `timestamp` (what Stripe computes)."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def check_signature(header: SignatureHeader, payload: bytes, *, secrets: Sequence[str]) -> None:
    """Pass when any v1 signature matches the payload under any of our secrets."""
    for secret in secrets:
        expected = sign(payload, secret=secret, timestamp=header.timestamp)
        # Every candidate is compared (no early exit on the first byte of any).
        if any(hmac.compare_digest(expected, given) for given in header.signatures):
            return
    raise SignatureRejected(
        "mismatch",
        "no v1 signature in Stripe-Signature matches the payload: check the endpoint's "
        "signing secret (FOURFOLD_INGEST_STRIPE_WEBHOOK_SECRET) and that the body is unaltered",
    )


def header_for(payload: bytes, *, secrets: Sequence[str], timestamp: int) -> str:
    """A Stripe-Signature header for `payload` (for tests, the CLI and benchmarks)."""
    signed = ",".join(f"v1={sign(payload, secret=s, timestamp=timestamp)}" for s in secrets)
    return f"t={timestamp},{signed}"
