"""One sender per channel kind behind one small protocol: send a delivery, say what happened.

- webhook: POST the JSON body with the Standard Webhooks headers (signing.py);
- slack: POST a Block Kit message to a Slack-compatible incoming webhook;
- email: a plain-text message over SMTP (aiosmtplib).

A sender never raises for the receiver's answer: a status, an error text and a Retry-After
come back in `Outcome`, and the worker decides (only 2xx is success; 410 disables).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

import aiosmtplib
import httpx

from fourfold.clock import Clock
from fourfold.notifications.delivery.signing import in_force, signed_headers

MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed delivery with its channel, as a sender needs it."""

    delivery_id: str
    partner_id: str
    channel_id: str
    channel_kind: str
    target: str
    secrets: Sequence[Mapping[str, Any]]
    payload: Mapping[str, Any]
    attempt: int


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    retry_after: str | None
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender(Protocol):
    async def send(self, job: Job) -> Outcome: ...


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes signed and sent (compact, key order as built)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> Outcome:
    started = time.perf_counter()
    try:
        response = await client.post(
            url, content=body, headers={"content-type": "application/json", **headers}
        )
    except httpx.HTTPError as exc:
        return Outcome(
            None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR], None, time.perf_counter() - started
        )
    error = None if response.is_success else (response.text[:500] or response.reason_phrase)
    return Outcome(
        response.status_code,
        error,
        response.headers.get("retry-after"),
        time.perf_counter() - started,
    )


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient, clock: Clock) -> None:
        self._client, self._clock = client, clock

    async def send(self, job: Job) -> Outcome:
        body = body_bytes(job.payload)
        now = self._clock.now()
        headers = signed_headers(
            secrets_in_force=in_force(job.secrets, now),
            msg_id=job.delivery_id,
            timestamp=int(now.timestamp()),
            body=body,
        )
        return await _post(self._client, job.target, body, headers)


def _nudges(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    data = payload["data"]
    return list(data["nudges"]) if payload["type"] == "nudge.digest" else [data]


MAX_SLACK_NUDGES = 20  # Block Kit allows 50 blocks per message


def slack_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Block Kit message: a header, then each nudge's title, next step and context."""
    nudges = _nudges(payload)
    digest = payload["type"] == "nudge.digest"
    heading = f"{len(nudges)} nudges for today" if digest else str(nudges[0]["title"])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": heading[:150]}}
    ]
    for n in nudges[:MAX_SLACK_NUDGES]:
        text = f"*{n['title']}*\n{n['next_step']}" if digest else str(n["next_step"])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
        context = f"customer `{n['customer_id']}` · {n['rule']} · {n['severity']}"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    if len(nudges) > MAX_SLACK_NUDGES:
        more = f"and {len(nudges) - MAX_SLACK_NUDGES} more in the Fourfold feed"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": more}})
    return {"text": heading, "blocks": blocks}


class SlackSender:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, job: Job) -> Outcome:
        return await _post(self._client, job.target, body_bytes(slack_message(job.payload)), {})


def email_message(payload: Mapping[str, Any], *, sender: str, to: str) -> EmailMessage:
    nudges = _nudges(payload)
    digest = payload["type"] == "nudge.digest"
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    message["Subject"] = f"{len(nudges)} Fourfold nudges" if digest else str(nudges[0]["title"])
    lines = []
    for n in nudges:
        lines += [
            str(n["title"]),
            f"Partner: {n['partner_id']}  Customer: {n['customer_id']}",
            f"Rule: {n['rule']} ({n['severity']})",
            f"Next step: {n['next_step']}",
            "",
        ]
    message.set_content("\n".join(lines))
    return message


@dataclass(frozen=True, slots=True)
class Smtp:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0


class EmailSender:
    def __init__(self, smtp: Smtp) -> None:
        self._smtp = smtp

    async def send(self, job: Job) -> Outcome:
        smtp = self._smtp
        message = email_message(job.payload, sender=smtp.sender, to=job.target)
        message["Message-ID"] = f"<{job.delivery_id}@fourfold>"  # the same on every retry
        started = time.perf_counter()
        try:
            await aiosmtplib.send(
                message,
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password,
                start_tls=smtp.starttls,
                timeout=smtp.timeout_s,
            )
        except aiosmtplib.SMTPResponseException as exc:
            return Outcome(
                exc.code, str(exc.message)[:MAX_ERROR], None, time.perf_counter() - started
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Outcome(
                None,
                f"{type(exc).__name__}: {exc}"[:MAX_ERROR],
                None,
                time.perf_counter() - started,
            )
        return Outcome(250, None, None, time.perf_counter() - started)
