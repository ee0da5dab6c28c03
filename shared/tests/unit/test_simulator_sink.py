"""The simulator's sinks: NDJSON lines, and the ingest poster's answers to each status.

The poster talks HTTP to a small scripted ASGI app through httpx.ASGITransport (the outer
boundary); the real ingest is in services/ingest/tests/integration/test_simulated_feed.py.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import httpx
import orjson
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fourfold.events import parse_input_event
from fourfold.simulator.sink import IngestPoster, IngestRefused, retry_after, write_ndjson
from fourfold.simulator.timeline import Timeline
from fourfold.simulator.vendor import build_vendor


class ScriptedIngest:
    """Answers each POST with the next scripted response; a 202 accepts every event."""

    def __init__(self, *script: Response | None) -> None:
        self.script = list(script)
        self.bodies: list[list[dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = orjson.loads(await request.body())
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        answer = self.script.pop(0) if self.script else None
        if answer is None:
            results = [
                {"index": i, "id": e["id"], "status": "accepted"} for i, e in enumerate(body)
            ]
            answer = JSONResponse(
                {"accepted": len(body), "duplicates": 0, "rejected": 0, "results": results},
                status_code=202,
            )
        await answer(scope, receive, send)


class Sleeps:
    def __init__(self) -> None:
        self.waited: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waited.append(seconds)


@pytest.fixture
def events() -> list[dict[str, Any]]:
    vendor = build_vendor(seed=2, partners=2, customers=4, signup_days=2)
    return [p.event for p in Timeline(vendor, start=date(2026, 2, 1)).events(4)]


def _client(app: ScriptedIngest) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest")


def test_ndjson_is_one_parseable_event_per_line_counted_by_type() -> None:
    vendor = build_vendor(seed=2, partners=2, customers=4, signup_days=2)
    timeline = Timeline(vendor, start=date(2026, 2, 1))
    out = io.BytesIO()
    counts = write_ndjson(timeline.events(10), out)
    lines = out.getvalue().splitlines()
    assert len(lines) == counts.total() > 0
    assert out.getvalue().endswith(b"\n")
    parsed = [parse_input_event(line) for line in lines]
    assert counts == {t: sum(1 for p in parsed if p.type == t) for t in counts}


async def test_batches_go_with_the_token_as_cloudevents_batches(
    events: list[dict[str, Any]],
) -> None:
    ingest = ScriptedIngest()
    async with _client(ingest) as http:
        poster = IngestPoster(http, token="tok", batch_size=7)
        await poster.send(events)
    assert [len(b) for b in ingest.bodies] == [7] * (len(events) // 7) + (
        [len(events) % 7] if len(events) % 7 else []
    )
    assert [e for b in ingest.bodies for e in b] == events
    assert ingest.headers[0]["authorization"] == "Bearer tok"
    assert ingest.headers[0]["content-type"] == "application/cloudevents-batch+json"
    assert (poster.delivery.accepted, poster.delivery.sent) == (len(events), len(events))


@pytest.mark.parametrize("status", [503, 429])
async def test_an_overloaded_ingest_is_waited_out_for_its_retry_after(
    events: list[dict[str, Any]], status: int
) -> None:
    busy = Response(b'{"error":"busy"}', status_code=status, headers={"Retry-After": "7"})
    ingest = ScriptedIngest(busy, busy)
    sleeps = Sleeps()
    async with _client(ingest) as http:
        poster = IngestPoster(http, token="t", batch_size=1000, sleep=sleeps)
        await poster.send(events)
    assert sleeps.waited == [7.0, 7.0]
    assert ingest.bodies == [events, events, events], "the same batch, same ids, again"
    assert (poster.delivery.accepted, poster.delivery.retries) == (len(events), 2)


async def test_giving_up_after_the_attempts_allowed_says_why(
    events: list[dict[str, Any]],
) -> None:
    busy = Response(b"down", status_code=503, headers={"Retry-After": "1"})
    ingest = ScriptedIngest(busy, busy, busy)
    async with _client(ingest) as http:
        poster = IngestPoster(http, token="t", max_attempts=2, sleep=Sleeps())
        with pytest.raises(IngestRefused, match="gave up after 2 attempts: 503 down"):
            await poster.send(events)


async def test_per_event_results_are_counted_and_rejections_kept_with_their_reasons(
    events: list[dict[str, Any]],
) -> None:
    batch = events[:3]
    partly = JSONResponse(
        {
            "accepted": 1,
            "duplicates": 1,
            "rejected": 1,
            "results": [
                {"index": 0, "id": batch[0]["id"], "status": "accepted"},
                {"index": 1, "id": batch[1]["id"], "status": "duplicate"},
                {
                    "index": 2,
                    "id": batch[2]["id"],
                    "status": "rejected",
                    "errors": [{"loc": ["data", "seats"], "msg": "too many", "type": "x"}],
                },
            ],
        },
        status_code=202,
    )
    all_bad = JSONResponse(
        {
            "error": "events_rejected",
            "detail": [{"index": 0, "status": "rejected", "errors": [{"loc": ["time"]}]}],
        },
        status_code=422,
    )
    ingest = ScriptedIngest(partly, all_bad)
    async with _client(ingest) as http:
        poster = IngestPoster(http, token="t", sleep=Sleeps())
        await poster.send(batch)
        await poster.send(events[3:4])
    delivery = poster.delivery
    assert (delivery.accepted, delivery.duplicates, delivery.rejected) == (1, 1, 2)
    assert delivery.retries == 0, "a rejected event is not sent again"
    assert batch[2]["id"] in delivery.problems[0]
    assert "seats" in delivery.problems[0]
    assert events[3]["type"] in delivery.problems[1]


@pytest.mark.parametrize("status", [400, 401, 403, 413, 415, 500])
async def test_a_refusal_no_retry_can_fix_stops_the_run(
    events: list[dict[str, Any]], status: int
) -> None:
    ingest = ScriptedIngest(Response(b'{"error":"nope"}', status_code=status))
    async with _client(ingest) as http:
        poster = IngestPoster(http, token="t", sleep=Sleeps())
        with pytest.raises(IngestRefused, match=f"ingest answered {status}") as caught:
            await poster.send(events)
    assert caught.value.status == status
    assert len(ingest.bodies) == 1


async def test_an_unreachable_ingest_is_retried_with_growing_waits(
    events: list[dict[str, Any]],
) -> None:
    sleeps = Sleeps()
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=2) as http:
        poster = IngestPoster(http, token="t", max_attempts=4, sleep=sleeps)
        with pytest.raises(IngestRefused, match="ConnectError"):
            await poster.send(events)
    assert sleeps.waited == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("5", 5.0), ("0", 0.0), ("2.5", 2.5), ("-3", 0.0), ("100000", 60.0), (None, 1.0),
     ("Wed, 21 Oct 2026 07:28:00 GMT", 1.0), ("nan", 1.0)],
)  # fmt: skip
def test_retry_after_is_read_as_bounded_seconds(header: str | None, seconds: float) -> None:
    assert retry_after(header) == seconds
