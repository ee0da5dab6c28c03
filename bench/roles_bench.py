"""GET latency while health-scoring works through a backlog (issue #13): one process with
`FOURFOLD_ROLE=all` against an `api` process beside a `worker` process, in the same run.

Each round gets fresh topics (12 partitions), schema and group, and a backlog produced
before anything starts: scale_bench's records (a `subscription.created` and six usage
readings for each of 4,000 customers) COPIES times under fresh event ids. Then the
processes start; once SCORED customers have a score, wrk (its own process, CONNECTIONS
connections) GETs `/v1/customers/{id}/health` for random scored customers for SECONDS, on
the `all` process or on the `api` one. A round counts only if the backlog was still being
worked at the end of the window (fewer events applied than produced). A third layout runs
the worker at nice 10: on a shared machine it stands for what separate pods with their own
CPU requests give the api (its share of CPU whatever the worker does). Rounds cycle through
the layouts, ROUNDS times; medians are reported. Writes
docs/benchmarks-roles-latest.md.

    .venv/bin/python bench/roles_bench.py
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from harness import BENCH_DIR, WRK, applied_records, bearer, write_latest
from recovery_bench import PARTITIONS, Worker, health_env
from scale_bench import EVENTS, produce

from fourfold.db.engine import asyncpg_dsn
from fourfold.events import BILLING_TOPIC, HEALTH_TOPIC, USAGE_TOPIC
from fourfold.infra.broker import EmbeddedBroker
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.kafka.topics import ensure_topics, with_dead_letters

COPIES = int(os.environ.get("BENCH_COPIES", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SCORED = 500
SECONDS = 10
CONNECTIONS = 8
GETS_SCRIPT = BENCH_DIR / "customer_gets.lua"
LIMIT_S = 180.0
NICED = "api+worker, worker at nice 10"
LAYOUTS = ("all", "api+worker", NICED)


@dataclass(frozen=True)
class Window:
    """One round's GETs: latency, how many, and how much of the backlog was applied meanwhile."""

    layout: str
    p50_ms: float
    p99_ms: float
    gets: int
    not_200: int
    applied_during: int
    left_after: int
    load: float


def wrk_gets(url: str, customers: list[str]) -> dict[str, int]:
    token = bearer("admin")["Authorization"].removeprefix("Bearer ")
    command = [
        WRK,
        "-t2",
        f"-c{CONNECTIONS}",
        f"-d{SECONDS}s",
        "--latency",
        "-s",
        str(GETS_SCRIPT),
        url,
        "--",
        token,
        ",".join(customers),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=SECONDS + 60)
    summary: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


async def wait_for(db: asyncpg.Connection, sql: str, at_least: int) -> None:
    deadline = time.monotonic() + LIMIT_S
    while time.monotonic() < deadline:
        try:
            if (await db.fetchval(sql) or 0) >= at_least:
                return
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"not reached within {LIMIT_S} s: {sql} >= {at_least}")


async def one_round(
    layout: str, bootstrap: str, database_url: str, db: asyncpg.Connection, state: Path
) -> Window:
    run = uuid.uuid4().hex[:6]
    prefix, schema = f"rl{run}.", f"roles_{run}"
    await ensure_topics(
        bootstrap,
        with_dead_letters([prefix + t for t in (BILLING_TOPIC, USAGE_TOPIC)]),
        partitions=PARTITIONS,
    )
    for copy in range(COPIES):
        await produce(bootstrap, prefix, f"{run}{copy}")
    total = EVENTS * COPIES
    env = health_env(bootstrap, database_url, schema, prefix, f"health-{run}")
    roles = ["all"] if layout == "all" else ["worker", "api"]
    workers = [
        Worker({**env, "FOURFOLD_ROLE": role}, role, state / f"{run}-{role}.log", sys.executable)
        for role in roles
    ]
    if layout == NICED:
        os.setpriority(os.PRIO_PROCESS, workers[0].process.pid, 10)
    try:
        for worker in workers:
            await worker.wait_ready()
        await wait_for(db, f"SELECT count(*) FROM {schema}.customers", SCORED)
        rows = await db.fetch(f"SELECT customer_id FROM {schema}.customers LIMIT {SCORED}")
        # health-scoring runs in offsets mode: what it applied is what its offsets cover
        before = await applied_records(db, schema)
        served = workers[-1]  # the `all` process, or the `api` one
        summary = await asyncio.to_thread(
            wrk_gets, f"http://127.0.0.1:{served.port}", [r["customer_id"] for r in rows]
        )
        after = await applied_records(db, schema)
    finally:
        for worker in workers:
            worker.terminate()
    return Window(
        layout,
        summary["p50_us"] / 1000,
        summary["p99_us"] / 1000,
        summary["requests"],
        summary["not_200"] + summary["socket_errors"],
        after - before,
        total - after,
        os.getloadavg()[0],
    )


def report(windows: list[Window], wall_s: float) -> str:
    lines = [
        f"{ROUNDS} rounds per layout, interleaved; load average"
        f" {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end;"
        f" backlog {EVENTS * COPIES:,} events per round,"
        f" {PARTITIONS} partitions; wrk {CONNECTIONS} connections for {SECONDS} s once"
        f" {SCORED} customers were scored; run took {wall_s:.0f} s.",
        "",
        "| layout | GET p50 ms (median) | GET p99 ms (median) | every round p99"
        " | GETs in the window | events applied meanwhile | left in the backlog | load |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for layout in LAYOUTS:
        own = [w for w in windows if w.layout == layout]
        valid = [w for w in own if w.left_after > 0 and w.not_200 == 0]
        lines.append(
            f"| {layout} | {statistics.median(w.p50_ms for w in valid):.0f}"
            f" | {statistics.median(w.p99_ms for w in valid):.0f}"
            f" | {' / '.join(f'{w.p99_ms:.0f}' for w in own)}"
            f" | {statistics.median(w.gets for w in own):.0f}"
            f" | {statistics.median(w.applied_during for w in own):,.0f}"
            f" | {' / '.join(f'{w.left_after:,}' for w in own)}"
            f" | {' / '.join(f'{w.load:.1f}' for w in own)} |"
            if valid
            else f"| {layout} | no valid round: {own} |"
        )
    return "\n".join(lines)


async def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="fourfold-roles-bench-"))
    wall = time.perf_counter()
    windows: list[Window] = []
    async with contextlib.AsyncExitStack() as running:
        broker = EmbeddedBroker(state).start()
        running.callback(broker.stop)
        postgres = EmbeddedPostgres(state).start()
        running.callback(postgres.stop)
        db = await asyncpg.connect(asyncpg_dsn(postgres.url()))
        running.push_async_callback(db.close)
        await ensure_topics(
            broker.bootstrap_servers, with_dead_letters([HEALTH_TOPIC]), partitions=1
        )
        for n, layout in itertools.product(range(ROUNDS), LAYOUTS):
            windows.append(
                await one_round(layout, broker.bootstrap_servers, postgres.url(), db, state)
            )
            print(f"round {n + 1}: {windows[-1]}", flush=True)
    table = report(windows, time.perf_counter() - wall)
    print("\n" + table)
    write_latest("benchmarks-roles-latest.md", "GET during a backlog, by process role", table)


if __name__ == "__main__":
    asyncio.run(main())
