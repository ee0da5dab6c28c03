"""Send the lines in batches, a few in flight, and fold each answer into the checkpoint.

Batches are committed (rejects written, checkpoint saved) in input order, whatever order
their answers come in, so the checkpoint always names a prefix of the input that ingest
has acknowledged. A 503, a 429 or a lost connection is retried with backoff (honouring
Retry-After) until `max_retry_s`; a 413 splits the batch; a 401/403 stops the run.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson

from fourfold.backfill.checkpoint import Checkpoint, Progress
from fourfold.backfill.source import Source

# Not fourfold.events.problems: importing the event contracts would double the command's
# start-up time for one line of formatting.
FieldProblem = dict[str, Any]

BATCH_TYPE = "application/cloudevents-batch+json"
RETRIED = {429, 502, 503, 504}


class BackfillAborted(Exception):
    """The run cannot go on; the checkpoint holds what was acknowledged."""

    def __init__(self, message: str, *, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class Options:
    url: str
    token: str
    batch_size: int = 500
    max_batch_bytes: int = 900 * 1024  # under ingest's default 1 MiB body limit
    concurrency: int = 4
    rate: float | None = None  # events per second
    max_retry_s: float = 300.0
    timeout_s: float = 30.0


@dataclass
class Batch:
    last_line: int  # the input line this batch's commit advances the checkpoint to
    events: list[tuple[int, bytes]] = field(default_factory=list)  # (line number, JSON)
    local: list[dict[str, Any]] = field(default_factory=list)  # lines rejected here
    size: int = 0


@dataclass
class Answer:
    accepted: int = 0
    duplicate: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)


class Pace:
    """At most `rate` events a second, on average, across batches."""

    def __init__(self, rate: float | None) -> None:
        self._rate = rate
        self._next = time.monotonic()

    async def take(self, events: int) -> None:
        if not self._rate or not events:
            return
        now = time.monotonic()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        self._next = max(now, self._next) + events / self._rate


def batches(source: Source, *, skip: int, size: int, max_bytes: int) -> Iterator[Batch]:
    """Cut the input into batches; a line that cannot be an event object is rejected here.

    Lines are not parsed here (ingest parses them anyway): one that looks like an object
    but is not valid JSON makes ingest refuse its batch, which is then sorted line by line
    (`Sender.send`).
    """
    batch = Batch(last_line=skip)
    committed = skip  # the last line a yielded batch advances to
    for number, raw in source.lines(skip=skip):
        batch.last_line = number
        line = raw.strip()
        if not line:
            continue
        if not line.startswith(b"{"):
            batch.local.append(_reject(number, _not_an_object(line), [], line))
            continue
        if batch.events and batch.size + len(line) + 1 > max_bytes:
            batch.last_line = committed = number - 1
            yield batch
            batch = Batch(last_line=number)
        batch.events.append((number, line))
        batch.size += len(line) + 1
        if len(batch.events) >= size:
            committed = number
            yield batch
            batch = Batch(last_line=number)
    if batch.events or batch.local or batch.last_line > committed:
        yield batch


def _not_an_object(line: bytes) -> str:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return f"not valid JSON: {exc}"
    return "a line must be one JSON object (an event)"


def _summary(problems: list[FieldProblem]) -> str:
    return "; ".join(
        ".".join(str(part) for part in p.get("loc", [])) + ": " + str(p.get("msg", ""))
        for p in problems
    )


def _reject(number: int, reason: str, errors: list[FieldProblem], line: bytes) -> dict[str, Any]:
    try:
        event: Any = orjson.loads(line)
    except orjson.JSONDecodeError:
        event = line.decode(errors="replace")
    return {"line": number, "reason": reason, "errors": errors, "event": event}


class Sender:
    def __init__(self, client: httpx.AsyncClient, options: Options) -> None:
        self._client = client
        self._options = options
        self._headers = {
            "Authorization": f"Bearer {options.token}",
            "Content-Type": BATCH_TYPE,
        }

    async def send(self, events: list[tuple[int, bytes]]) -> Answer:
        """One batch's outcome, retrying what is worth retrying."""
        body = b"[" + b",".join(line for _, line in events) + b"]"
        deadline = time.monotonic() + self._options.max_retry_s
        pause = 0.5
        while True:
            try:
                response = await self._client.post(
                    "/v1/events", content=body, headers=self._headers
                )
            except httpx.TransportError as exc:
                problem = f"ingest unreachable ({type(exc).__name__})"
                wait = pause
            else:
                if response.status_code == 400 and _code(response) == "malformed_json":
                    return await self._sorted(events)
                if response.status_code == 413 and len(events) > 1:
                    half = len(events) // 2
                    first, second = await self.send(events[:half]), await self.send(events[half:])
                    return Answer(
                        first.accepted + second.accepted,
                        first.duplicate + second.duplicate,
                        first.rejects + second.rejects,
                    )
                if response.status_code not in RETRIED:
                    return self._answer(events, response)
                problem = f"ingest answered {response.status_code}"
                retry_after = response.headers.get("retry-after", "")
                wait = float(retry_after) if retry_after.isdigit() else pause
            if time.monotonic() + wait > deadline:
                raise BackfillAborted(
                    f"{problem} for {self._options.max_retry_s:.0f} s; run again to resume",
                    exit_code=3,
                )
            await asyncio.sleep(wait)
            pause = min(pause * 2, 10.0)

    async def _sorted(self, events: list[tuple[int, bytes]]) -> Answer:
        """A batch ingest could not parse: reject the lines that are not JSON objects here,
        send the rest again."""
        good: list[tuple[int, bytes]] = []
        bad: list[dict[str, Any]] = []
        for number, line in events:
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                bad.append(_reject(number, f"not valid JSON: {exc}", [], line))
                continue
            if isinstance(parsed, dict):
                good.append((number, line))
            else:
                bad.append(_reject(number, _not_an_object(line), [], line))
        if not bad:
            raise BackfillAborted("ingest could not parse a batch of valid JSON", exit_code=2)
        answer = await self.send(good) if good else Answer()
        answer.rejects += bad
        return answer

    def _answer(self, events: list[tuple[int, bytes]], response: httpx.Response) -> Answer:
        status = response.status_code
        if status in {401, 403}:
            raise BackfillAborted(
                f"ingest refused the credential ({status}): {response.text[:300]}; set "
                "FOURFOLD_BACKFILL_TOKEN to an ingest-role token",
                exit_code=2,
            )
        if status == 202:
            results = orjson.loads(response.content)["results"]
        elif status == 422 and _code(response) == "events_rejected":
            results = orjson.loads(response.content)["detail"]
        else:
            raise BackfillAborted(f"ingest answered {status}: {response.text[:500]}", exit_code=2)
        answer = Answer()
        for result in results:
            if result["status"] == "accepted":
                answer.accepted += 1
            elif result["status"] == "duplicate":
                answer.duplicate += 1
            else:
                number, line = events[result["index"]]
                errors = result.get("errors") or []
                answer.rejects.append(_reject(number, _summary(errors), errors, line))
        return answer


def _code(response: httpx.Response) -> str | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    return body.get("error") if isinstance(body, dict) else None


async def run(
    source: Source,
    checkpoint: Checkpoint,
    rejects_path: Path,
    options: Options,
    *,
    on_sent: Callable[[int], None] = lambda n: None,
    on_commit: Callable[[Progress], None] = lambda p: None,
) -> Progress:
    """Send everything after the checkpoint; return the cumulative progress."""
    progress = checkpoint.progress
    rejects = _open_rejects(rejects_path, progress.rejects_bytes)
    pace = Pace(options.rate)
    limits = httpx.Limits(max_connections=options.concurrency)
    timeout = httpx.Timeout(options.timeout_s)
    async with httpx.AsyncClient(base_url=options.url, limits=limits, timeout=timeout) as client:
        sender = Sender(client, options)
        in_flight: deque[tuple[Batch, asyncio.Task[Answer]]] = deque()

        def commit(batch: Batch, answer: Answer) -> None:
            for reject in sorted(batch.local + answer.rejects, key=lambda r: r["line"]):
                rejects.write(orjson.dumps(reject) + b"\n")
            rejects.flush()
            progress.lines = batch.last_line
            progress.sent += len(batch.events)
            progress.accepted += answer.accepted
            progress.duplicate += answer.duplicate
            progress.rejected += len(batch.local) + len(answer.rejects)
            progress.rejects_bytes = rejects.tell()
            checkpoint.save()
            on_commit(progress)

        try:
            for batch in batches(
                source,
                skip=progress.lines,
                size=options.batch_size,
                max_bytes=options.max_batch_bytes,
            ):
                await pace.take(len(batch.events))
                task = asyncio.create_task(_send(sender, batch))
                on_sent(len(batch.events))
                in_flight.append((batch, task))
                while len(in_flight) >= options.concurrency:
                    done, pending = in_flight.popleft()
                    commit(done, await pending)
            while in_flight:
                done, pending = in_flight.popleft()
                commit(done, await pending)
        finally:
            for _, pending in in_flight:
                pending.cancel()
            rejects.close()
    return progress


async def _send(sender: Sender, batch: Batch) -> Answer:
    return await sender.send(batch.events) if batch.events else Answer()


def _open_rejects(path: Path, keep_bytes: int) -> BinaryIO:
    """The rejects file, cut back to what the checkpoint counted, open for appending."""
    handle = path.open("ab")
    handle.truncate(keep_bytes)
    handle.seek(keep_bytes)
    return handle
