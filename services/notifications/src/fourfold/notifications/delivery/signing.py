"""Standard Webhooks signatures: `webhook-id`, `webhook-timestamp`, `webhook-signature`.

The signature is `v1,` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")) where the key
is the base64 after the `whsec_` prefix of the endpoint's secret. During a rotation the old
and the new secret both sign (space-separated signatures) until the overlap ends, so a
receiver can switch at its own pace. The `webhook-id` is the delivery's id, the same on
every retry, so receivers dedupe by it.

Twenty lines of standard library instead of the `standardwebhooks` package (which brings
an HTTP API client along): the tests check these signatures with that official library, and
docs/notifications-service.md shows how a partner verifies them with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

PREFIX = "whsec_"
SECRET_BYTES = 32


def generate_secret() -> str:
    """A fresh endpoint secret: `whsec_` + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    *, secrets_in_force: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret in force."""
    signatures = " ".join(
        signature(secret=s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets_in_force
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


def in_force(stored: Sequence[Mapping[str, Any]], now: datetime) -> list[str]:
    """The secrets that sign at `now`: the newest first, then old ones inside their overlap."""
    kept = [
        s
        for s in stored
        if s.get("expires_at") is None or datetime.fromisoformat(s["expires_at"]) > now
    ]
    # newest first; the later entry wins a tie (a rotation appends the new secret)
    ordered = sorted(enumerate(kept), key=lambda e: (e[1]["created_at"], e[0]), reverse=True)
    return [entry["secret"] for _, entry in ordered]


def new_secret_entry(secret: str, now: datetime) -> dict[str, Any]:
    return {"secret": secret, "created_at": now.isoformat(), "expires_at": None}


def rotated(
    stored: Sequence[Mapping[str, Any]], *, secret: str, now: datetime, overlap: timedelta
) -> list[dict[str, Any]]:
    """The secrets after a rotation: the new one, and the ones in force for `overlap` more
    (never longer than they had); expired ones are dropped."""
    until = now + overlap
    kept = []
    for entry in stored:
        expires = entry.get("expires_at")
        end = until if expires is None else min(until, datetime.fromisoformat(expires))
        if end > now:
            kept.append({**entry, "expires_at": end.isoformat()})
    return [*kept, new_secret_entry(secret, now)]
