"""(b) alone, two trees alternated: the health-scoring service of each tree's venv consumes
`health_bench`'s records (fresh topics and schema per run, one broker and PostgreSQL for
all), and the run's rate and the service's CPU per event are printed with the load.

    .venv/bin/python bench/health_pairs.py /work/main/.venv/bin/python [pairs]

Runs "other" (the given python: another tree's venv runs that tree's code), then this tree,
`pairs` times (default 3), the order swapped every other pair. Optional BENCH_PYSPY as in
health_bench (a profile per run). Not run by `make bench`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path

import health_bench
from harness import SECRET, serve

from fourfold.infra.broker import EmbeddedBroker
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.infra.process import free_port
from fourfold.kafka.topics import ensure_topics, with_dead_letters


async def one_run(
    python: str, label: str, n: int, broker: EmbeddedBroker, postgres: EmbeddedPostgres, state: Path
) -> str:
    run = f"{uuid.uuid4().hex[:6]}"
    prefix = f"hp{run}."
    await ensure_topics(
        broker.bootstrap_servers,
        with_dead_letters([prefix + t for t in health_bench.INPUTS]),
        partitions=health_bench.PARTITIONS,
    )
    total = await health_bench.produce(broker.bootstrap_servers, prefix, run)
    schema = f"hp_{run}"
    health_bench.HEALTH_SCHEMA = schema  # what service_rate counts and reports
    env = {
        "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "FOURFOLD_DATABASE_URL": postgres.url(),
        "FOURFOLD_AUTH_SECRET": SECRET,
        "FOURFOLD_LOG_LEVEL": "WARNING",
        "FOURFOLD_TOPIC_PARTITIONS": str(health_bench.PARTITIONS),
        "FOURFOLD_DATABASE_SCHEMA": schema,
        "FOURFOLD_HEALTH_TOPIC_PREFIX": prefix,
        "FOURFOLD_HEALTH_CONSUMER_GROUP": f"health-pairs-{run}",
    }
    log = state / f"health-{n}.log"
    load = os.getloadavg()[0]
    process = serve(health_bench.HEALTH_APP, free_port(), env, log, python=python)
    profile = state / f"profile-{n}-{label}.txt" if os.environ.get("BENCH_PYSPY") else None
    try:
        rate, stats = await health_bench.service_rate(
            health_bench.asyncpg_dsn(postgres.url()), total, process, log, profile
        )
    finally:
        health_bench.stop(process)
    line = (
        f"| {n} | {label} | {load:.1f} → {os.getloadavg()[0]:.1f} | {rate.rate:,.0f} |"
        f" {rate.cpu_us_per_event:.0f} | {stats['service_cpu']:.0%} | {stats['history']:,} |"
    )
    print(line, f"profile: {profile}" if profile else "", flush=True)
    return line


async def main() -> None:
    other, pairs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    state = Path(tempfile.mkdtemp(prefix="fourfold-health-pairs-"))
    broker = EmbeddedBroker(state).start()
    postgres = EmbeddedPostgres(state).start()
    print(f"state in {state}")
    print(
        "| run | code | load (1 min) start → end | (b) events/s | CPU µs/event | of a core"
        " | history |"
    )
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: |", flush=True)
    try:
        n = 0
        for pair in range(pairs):
            order = [(other, "other"), (sys.executable, "this tree")]
            for python, label in order if pair % 2 == 0 else order[::-1]:
                n += 1
                await one_run(python, label, n, broker, postgres, state)
    finally:
        postgres.stop()
        broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
