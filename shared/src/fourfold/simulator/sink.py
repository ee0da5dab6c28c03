"""Where simulated events go: an NDJSON file (one structured CloudEvent per line) or ingest.

`IngestPoster` speaks the public ingest API as any vendor would: `POST /v1/events` with
batches (`application/cloudevents-batch+json`) and an ingest token. It waits out a 503 or a
429 for its `Retry-After` and sends the same batch again (ids are stable, so nothing doubles),
and it reads the per-event results of a 202 or a 422: a rejected event is counted and logged
with the fields ingest named, never retried. Any other refusal (a bad token, a body too large)
is a configuration error and stops the run.

`StripePoster` sends a `StripeTimeline`'s Stripe events one by one to
`POST /v1/webhooks/stripe`, signed as Stripe signs them (`Stripe-Signature: t=...,v1=...`,
HMAC-SHA256 of `<t>.<body>` with the endpoint's secret, `t` on the simulator's clock), and
everything else through an `IngestPoster`, keeping the order of what it is given. The
adapter's outcomes are counted: `mapped` as accepted, `duplicate` as duplicates, `ignored`
(a cancellation notice: Fourfold hears of it when Stripe deletes the subscription) apart,
and `unmapped` or `rejected` as rejected, logged with the adapter's reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

import httpx
import orjson

from fourfold.clock import Clock
from fourfold.simulator.stripe import is_stripe
from fourfold.simulator.wire import Planned

log = logging.getLogger(__name__)

BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
RETRY_STATUSES = frozenset({429, 503})
MAX_WAIT_S = 60.0
KEPT_PROBLEMS = 20


class EventSink(Protocol):
    async def send(self, events: Sequence[dict[str, Any]]) -> None:
        """Deliver these events, in order."""
        ...


def write_ndjson(events: Iterable[Planned], out: BinaryIO) -> Counter[str]:
    """Write one CloudEvent per line, exactly the JSON ingest accepts; count them by type."""
    counts: Counter[str] = Counter()
    for planned in events:
        out.write(orjson.dumps(planned.event) + b"\n")
        counts[planned.event["type"]] += 1
    return counts


class IngestRefused(Exception):
    """Ingest refused a request for a reason a retry cannot fix (auth, size, media type)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"ingest answered {status}: {body[:500]}")
        self.status = status


@dataclass
class Delivery:
    """What ingest made of everything sent so far."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    ignored: int = 0
    """Stripe events the adapter acknowledged and has no use for (a cancellation notice)."""
    retries: int = 0
    problems: list[str] = field(default_factory=list)
    """The first rejections, with ingest's reasons: a simulator bug or a contract change."""

    @property
    def sent(self) -> int:
        return self.accepted + self.duplicates + self.rejected + self.ignored


class IngestPoster:
    """Posts events to ingest in batches; `delivery` adds up the outcomes."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token: str,
        batch_size: int = 500,
        max_attempts: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._http = http
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": BATCH_CONTENT_TYPE}
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._sleep = sleep
        self.delivery = Delivery()

    async def send(self, events: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(events), self._batch_size):
            await self._post(events[start : start + self._batch_size])

    async def _post(self, batch: Sequence[dict[str, Any]]) -> None:
        body = orjson.dumps(list(batch))
        response = await self.post_until_taken("/v1/events", body, self._headers)
        self._record(response, batch)

    async def post_until_taken(
        self, path: str, body: bytes, headers: dict[str, str] | Callable[[], dict[str, str]]
    ) -> httpx.Response:
        """POST until the answer is neither a 429/503 nor a connection failure (each waited
        out); `headers` may be a function, called for each attempt (a fresh signature)."""
        attempt = 0
        while True:
            attempt += 1
            sent = headers() if callable(headers) else headers
            try:
                response = await self._http.post(path, content=body, headers=sent)
            except httpx.TransportError as exc:
                wait, reason = min(MAX_WAIT_S, 0.5 * 2 ** min(attempt, 7)), repr(exc)
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                wait = retry_after(response.headers.get("Retry-After"))
                reason = f"{response.status_code} {response.text[:200]}"
            if self._max_attempts is not None and attempt >= self._max_attempts:
                raise IngestRefused(503, f"gave up after {attempt} attempts: {reason}")
            self.delivery.retries += 1
            log.warning("ingest not taking events (%s); retrying in %.1fs", reason, wait)
            await self._sleep(wait)

    def _record(self, response: httpx.Response, batch: Sequence[dict[str, Any]]) -> None:
        if response.status_code == 202:
            results = response.json()["results"]
        elif response.status_code == 422 and response.json().get("error") == "events_rejected":
            results = response.json()["detail"]
        else:
            raise IngestRefused(response.status_code, response.text)
        for result in results:
            status = result.get("status", "rejected")
            if status == "accepted":
                self.delivery.accepted += 1
            elif status == "duplicate":
                self.delivery.duplicates += 1
            else:
                self._rejected(result, batch)

    def _rejected(self, result: dict[str, Any], batch: Sequence[dict[str, Any]]) -> None:
        self.delivery.rejected += 1
        index = result.get("index")
        event = batch[index] if isinstance(index, int) and 0 <= index < len(batch) else {}
        problem = f"{event.get('type')} {event.get('id')}: {result.get('errors')}"
        log.warning("ingest rejected a simulated event: %s", problem)
        if len(self.delivery.problems) < KEPT_PROBLEMS:
            self.delivery.problems.append(problem)


STRIPE_PATH = "/v1/webhooks/stripe"


def stripe_signature(body: bytes, *, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header Stripe would send with `body` at `timestamp`."""
    signed = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={signed.hexdigest()}"


class StripePoster:
    """Stripe events to the Stripe webhook route, signed; the rest through `plain`."""

    def __init__(self, plain: IngestPoster, *, secret: str, clock: Clock) -> None:
        self._plain = plain
        self._secret = secret
        self._clock = clock
        self.delivery = plain.delivery

    async def send(self, events: Sequence[dict[str, Any]]) -> None:
        run: list[dict[str, Any]] = []
        for event in events:
            if not is_stripe(event):
                run.append(event)
                continue
            if run:
                await self._plain.send(run)
                run = []
            await self._webhook(event)
        if run:
            await self._plain.send(run)

    async def _webhook(self, event: dict[str, Any]) -> None:
        body = orjson.dumps(event)

        def headers() -> dict[str, str]:
            stamp = int(self._clock.now().timestamp())
            return {
                "Content-Type": "application/json",
                "Stripe-Signature": stripe_signature(body, secret=self._secret, timestamp=stamp),
            }

        response = await self._plain.post_until_taken(STRIPE_PATH, body, headers)
        if response.status_code != 200:
            raise IngestRefused(response.status_code, response.text)
        receipt = response.json()
        outcome = receipt.get("outcome")
        if outcome == "mapped":
            self.delivery.accepted += 1
        elif outcome == "duplicate":
            self.delivery.duplicates += 1
        elif outcome == "ignored":
            self.delivery.ignored += 1
        else:
            self.delivery.rejected += 1
            problem = f"{event.get('type')} {event.get('id')}: {outcome}: {receipt.get('reason')}"
            log.warning("the Stripe adapter did not map a simulated event: %s", problem)
            if len(self.delivery.problems) < KEPT_PROBLEMS:
                self.delivery.problems.append(problem)


def retry_after(header: str | None, *, default: float = 1.0) -> float:
    """Seconds to wait from a `Retry-After` in seconds (an HTTP date falls back to `default`)."""
    try:
        seconds = float(header) if header is not None else default
    except ValueError:
        seconds = default
    return min(MAX_WAIT_S, max(0.0, seconds)) if seconds == seconds else default
