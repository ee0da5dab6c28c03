"""Scale-out benchmark (issue #13): two health-scoring workers in one consumer group against
one worker, on the same records, in the same run.

Each round gets fresh topics (12 partitions), a fresh schema and group. The workers start
first and join (both `/readyz` 200 and the group holding that many members), then EVENTS
records are produced at once (health_bench's `subscription.created` and six usage readings
per customer); the
rate runs from the first committed batch to the last event applied (the records its stored
offsets cover: health-scoring runs in offsets mode), so the group
join is not in it. Rounds alternate one worker, two workers, ROUNDS times; the median of
each is reported with its ratio and the CPU the workers spent per event. Writes
docs/benchmarks-scale-latest.md.

    .venv/bin/python bench/scale_bench.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from harness import SECRET, applied_records, write_latest
from health_bench import USAGE_PER_CUSTOMER, subscription_created, usage_for
from recovery_bench import HEALTH_APP, PARTITIONS, Worker

from fourfold.events import BILLING_TOPIC, HEALTH_TOPIC, USAGE_TOPIC
from fourfold.infra.broker import EmbeddedBroker
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.kafka.topics import ensure_topics, with_dead_letters
from fourfold.testing.kafka import group_members

CUSTOMERS = 4_000
EVENTS = CUSTOMERS * (1 + USAGE_PER_CUSTOMER)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
LIMIT_S = 300.0


@dataclass(frozen=True)
class Run:
    """One round: how many workers, events applied per second, worker CPU per event."""

    workers: int
    rate: float
    cpu_us_per_event: float


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def records(run: str) -> dict[str, list[tuple[bytes, bytes]]]:
    """Per topic, the round's records: health_bench's subscriptions and usage readings."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    billing = [subscription_created(run, i, midnight.date()) for i in range(CUSTOMERS)]
    usage = [e for i in range(CUSTOMERS) for e in usage_for(run, i, midnight)]
    return {
        BILLING_TOPIC: [(e["data"]["customer_id"].encode(), orjson.dumps(e)) for e in billing],
        USAGE_TOPIC: [(e["data"]["customer_id"].encode(), orjson.dumps(e)) for e in usage],
    }


async def produce(bootstrap: str, prefix: str, run: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        for topic, batch in records(run).items():
            futures = [await producer.send(prefix + topic, v, key=k) for k, v in batch]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def one_round(
    workers: int, bootstrap: str, database_url: str, db: asyncpg.Connection, state: Path
) -> Run:
    run = uuid.uuid4().hex[:6]
    prefix, schema, group = f"sc{run}.", f"scale_{run}", f"health-{run}"
    env = {
        "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "FOURFOLD_DATABASE_URL": database_url,
        "FOURFOLD_DATABASE_SCHEMA": schema,
        "FOURFOLD_AUTH_SECRET": SECRET,
        "FOURFOLD_LOG_LEVEL": "WARNING",
        "FOURFOLD_TOPIC_PARTITIONS": str(PARTITIONS),
        "FOURFOLD_HEALTH_TOPIC_PREFIX": prefix,
        "FOURFOLD_HEALTH_CONSUMER_GROUP": group,
    }
    started = [
        Worker(
            {**env, "FOURFOLD_CONSUMER_INSTANCE": f"w{w}"},
            f"w{w}",
            state / f"{run}-w{w}.log",
            python=sys.executable,
        )
        for w in range(workers)
    ]
    try:
        for worker in started:
            await worker.wait_ready()
        deadline = time.monotonic() + 60
        while len(await group_members(bootstrap, group)) != workers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the group never held {workers} members")
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # let the last rebalance settle before the records land
        await produce(bootstrap, prefix, run)
        count, first_at, first_count, first_cpu = 0, 0.0, 0, 0.0
        deadline = time.monotonic() + LIMIT_S
        while count < EVENTS:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{workers} workers applied {count} of {EVENTS}")
            count = await applied_records(db, schema)
            if count and not first_at:
                first_at, first_count = time.perf_counter(), count
                first_cpu = sum(cpu_seconds(w.process.pid) for w in started)
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - first_at
        cpu = sum(cpu_seconds(w.process.pid) for w in started) - first_cpu
        events = EVENTS - first_count
        return Run(workers, events / seconds, 1e6 * cpu / events)
    finally:
        for worker in started:
            worker.terminate()


def table(runs: list[Run], wall_s: float) -> str:
    def median(workers: int, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in runs if r.workers == workers)

    one, two = median(1, "rate"), median(2, "rate")
    lines = [
        f"{EVENTS:,} events ({CUSTOMERS:,} customers) per round over {PARTITIONS} partitions,"
        f" {ROUNDS} rounds of each, interleaved; run took {wall_s:.0f} s.",
        "",
        "| workers in the group | events/s (median) | every round | of one worker"
        " | worker CPU µs/event |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for workers in (1, 2):
        rates = " / ".join(f"{r.rate:,.0f}" for r in runs if r.workers == workers)
        rate, cpu = median(workers, "rate"), median(workers, "cpu_us_per_event")
        lines.append(f"| {workers} | {rate:,.0f} | {rates} | {rate / one:.0%} | {cpu:.0f} |")
    lines += ["", f"Two workers: {two / one:.2f}× one worker's rate."]
    return "\n".join(lines)


async def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="fourfold-scale-bench-"))
    wall = time.perf_counter()
    broker = EmbeddedBroker(state).start()
    postgres = EmbeddedPostgres(state).start()
    print(f"state in {state}; {HEALTH_APP}", flush=True)
    db = await asyncpg.connect(postgres.url().replace("postgresql+asyncpg://", "postgresql://"))
    runs: list[Run] = []
    try:
        await ensure_topics(
            broker.bootstrap_servers, with_dead_letters([HEALTH_TOPIC]), partitions=PARTITIONS
        )
        for _ in range(ROUNDS):
            for workers in (1, 2):
                runs.append(
                    await one_round(workers, broker.bootstrap_servers, postgres.url(), db, state)
                )
                last = runs[-1]
                print(
                    f"{workers} worker(s): {last.rate:,.0f} events/s,"
                    f" {last.cpu_us_per_event:.0f} µs CPU/event",
                    flush=True,
                )
        result = table(runs, time.perf_counter() - wall)
        print("\n" + result)
        write_latest("benchmarks-scale-latest.md", "Scale-out benchmark", result)
    finally:
        await db.close()
        postgres.stop()
        broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
