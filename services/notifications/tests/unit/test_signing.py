"""Our Standard Webhooks signer against the official library, and secret rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from fourfold.notifications.delivery.signing import (
    generate_secret,
    in_force,
    new_secret_entry,
    rotated,
    signature,
    signed_headers,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_a_signature_is_the_official_librarys() -> None:
    secret = generate_secret()
    body = b'{"type":"nudge.raised","data":{"x":1}}'
    when = datetime.now(UTC).replace(microsecond=0)
    ours = signature(secret=secret, msg_id="msg_1", timestamp=int(when.timestamp()), body=body)
    assert ours == Webhook(secret).sign("msg_1", when, body.decode())
    headers = signed_headers(
        secrets_in_force=[secret], msg_id="msg_1", timestamp=int(when.timestamp()), body=body
    )
    assert Webhook(secret).verify(body, headers) == {"type": "nudge.raised", "data": {"x": 1}}
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, headers)


def test_rotation_signs_with_both_until_the_overlap_ends() -> None:
    old, new = generate_secret(), generate_secret()
    stored = rotated([new_secret_entry(old, NOW)], secret=new, now=NOW, overlap=timedelta(days=1))
    assert in_force(stored, NOW) == [new, old]
    assert in_force(stored, NOW + timedelta(days=1) - timedelta(seconds=1)) == [new, old]
    assert in_force(stored, NOW + timedelta(days=1)) == [new]
    # rotating again inside the overlap never extends the oldest secret's life
    again = rotated(
        stored, secret=generate_secret(), now=NOW + timedelta(hours=23), overlap=timedelta(days=1)
    )
    assert len(in_force(again, NOW + timedelta(days=1, seconds=1))) == 2


def test_secrets_are_whsec_and_distinct() -> None:
    secrets = {generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") for s in secrets)
