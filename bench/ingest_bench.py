"""`make bench`: ingest throughput and latency, each against a baseline from the same run.

(a) raw aiokafka producer, same pre-serialised events (the ceiling for b)
(b) ingest over HTTP, batches of 500 events
(c) ingest over HTTP, single-event POSTs
(d) a bare FastAPI route answering 202 without work (the ceiling for c)

Everything runs on this machine on the embedded broker and PostgreSQL; the figures are
written to docs/benchmarks.md as ratios, because absolute numbers on a shared, noisy
two-core machine mean little.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from aiokafka import AIOKafkaProducer
from harness import SECRET, bearer, serve, write_latest

from fourfold.events import USAGE_TOPIC
from fourfold.events.registry import INPUT_TOPICS
from fourfold.infra.broker import EmbeddedBroker
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.infra.process import free_port
from fourfold.kafka.topics import ensure_topics, with_dead_letters
from fourfold.testing.samples import usage_reported

RAW_EVENTS = 50_000
BATCH_SIZE = 500
BATCH_REQUESTS = 100
BATCH_CONCURRENCY = 4
SINGLE_REQUESTS = 3_000
SINGLE_CONCURRENCY = 32
ROUNDS = 3


@dataclass
class Result:
    name: str
    events: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def events(prefix: str, n: int) -> list[dict[str, object]]:
    return [usage_reported(f"{prefix}-{i}", f"cust-{i % 1000}", value=i % 50) for i in range(n)]


async def raw_producer(bootstrap: str) -> Result:
    payloads = [
        (e["data"]["customer_id"].encode(), orjson.dumps(e)) for e in events("raw", RAW_EVENTS)
    ]  # type: ignore[index]
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=512 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    futures = [await producer.send(USAGE_TOPIC, value, key=key) for key, value in payloads]
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    await producer.stop()
    return Result("(a) raw aiokafka producer", RAW_EVENTS, elapsed, [])


async def http_load(
    name: str,
    url: str,
    bodies: list[bytes],
    *,
    headers: dict[str, str],
    concurrency: int,
    events_per_request: int,
) -> Result:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as http:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                body = queue.get_nowait()
                t0 = time.perf_counter()
                response = await http.post(url, content=body)
                latencies.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 202:
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{name}: {failures} requests failed")
    return Result(name, len(bodies) * events_per_request, elapsed, latencies)


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


async def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="fourfold-bench-"))
    broker = EmbeddedBroker(state).start()
    postgres = EmbeddedPostgres(state).start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await ensure_topics(broker.bootstrap_servers, with_dead_letters(INPUT_TOPICS), partitions=6)
        ingest_port, bare_port = free_port(), free_port()
        env = {
            "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "FOURFOLD_DATABASE_URL": postgres.url(),
            "FOURFOLD_AUTH_SECRET": SECRET,
            "FOURFOLD_LOG_LEVEL": "WARNING",
        }
        processes.append(
            serve("fourfold.ingest.app:create_app", ingest_port, env, state / "ingest.log")
        )
        processes.append(serve("bare_app:app", bare_port, env, state / "bare.log"))
        wait_http(f"http://127.0.0.1:{ingest_port}/readyz")
        wait_http(f"http://127.0.0.1:{bare_port}/docs")
        auth = bearer("ingest")
        batch_headers = {**auth, "Content-Type": "application/cloudevents-batch+json"}
        single_headers = {**auth, "Content-Type": "application/cloudevents+json"}
        run = uuid.uuid4().hex[:6]
        ingest_url = f"http://127.0.0.1:{ingest_port}/v1/events"
        bare_url = f"http://127.0.0.1:{bare_port}/v1/events"

        # Warm up both servers and the broker connections.
        await http_load(
            "warm",
            ingest_url,
            [orjson.dumps(events(f"w{run}", 50))] * 4,
            headers=batch_headers,
            concurrency=2,
            events_per_request=50,
        )
        await http_load(
            "warm",
            bare_url,
            [b"{}"] * 200,
            headers=single_headers,
            concurrency=8,
            events_per_request=1,
        )

        rounds: list[list[Result]] = []
        for round_no in range(ROUNDS):  # interleaved, so drift on the machine hits all alike
            tag = f"{run}r{round_no}"
            raw = await raw_producer(broker.bootstrap_servers)
            all_batch = events(f"b{tag}", BATCH_SIZE * BATCH_REQUESTS)
            batches = [
                orjson.dumps(all_batch[i : i + BATCH_SIZE])
                for i in range(0, len(all_batch), BATCH_SIZE)
            ]
            batch = await http_load(
                "(b) ingest, batches of 500",
                ingest_url,
                batches,
                headers=batch_headers,
                concurrency=BATCH_CONCURRENCY,
                events_per_request=BATCH_SIZE,
            )
            singles = [orjson.dumps(e) for e in events(f"s{tag}", SINGLE_REQUESTS)]
            single = await http_load(
                "(c) ingest, single-event POSTs",
                ingest_url,
                singles,
                headers=single_headers,
                concurrency=SINGLE_CONCURRENCY,
                events_per_request=1,
            )
            bare = await http_load(
                "(d) bare FastAPI 202",
                bare_url,
                singles,
                headers=single_headers,
                concurrency=SINGLE_CONCURRENCY,
                events_per_request=1,
            )
            rounds.append([raw, batch, single, bare])
            print(
                f"round {round_no + 1}: (b)/(a) {batch.rate / raw.rate:.0%}, "
                f"(c)/(d) {single.rate / bare.rate:.0%}",
                flush=True,
            )
        write_report(rounds)
    finally:
        for process in processes:
            process.terminate()
            process.wait(15)
        postgres.stop()
        broker.stop()


def median_table(rounds: list[list[Result]]) -> list[str]:
    """The median round's figures per measurement, as a Markdown table."""
    lines = [
        f"Median of {len(rounds)} interleaved rounds.",
        "",
        "| measurement | events/s | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for column in range(len(rounds[0])):
        results = sorted((r[column] for r in rounds), key=lambda result: result.rate)
        r = results[len(results) // 2]
        p50 = "" if not r.latencies_ms else f"{r.pct(0.5):.1f}"
        p99 = "" if not r.latencies_ms else f"{r.pct(0.99):.1f}"
        lines.append(f"| {r.name} | {r.rate:,.0f} | {p50} | {p99} |")
    return lines


def write_report(rounds: list[list[Result]]) -> None:
    """The median round's figures per measurement, and the median of each round's ratio."""
    lines = median_table(rounds)
    batch_ratios = [r[1].rate / r[0].rate for r in rounds]
    single_ratios = [r[2].rate / r[3].rate for r in rounds]
    lines += [
        "",
        f"- (b)/(a) batch ingest vs raw producer: **{statistics.median(batch_ratios):.0%}**"
        f" (rounds: {', '.join(f'{x:.0%}' for x in batch_ratios)}; target ≥ 50%)",
        f"- (c)/(d) single-event ingest vs bare route: **{statistics.median(single_ratios):.0%}**"
        f" (rounds: {', '.join(f'{x:.0%}' for x in single_ratios)}; target ≥ 50%)",
    ]
    table = "\n".join(lines)
    print(table)
    write_latest("benchmarks-ingest-latest.md", "Latest `make bench` (ingest)", table)


if __name__ == "__main__":
    asyncio.run(main())
