"""Recovery benchmark (issue #13): how long consumption stops when a health-scoring process
is killed and restarted, or replaced in a rolling restart, against a baseline from the same run.

A steady stream of `usage.reported` events (RATE per second, 12 partitions) flows while:

- kill: the running process gets SIGKILL and a new one is started at once; measured is the
  time from the restart until the new process commits its first batch (the first newer
  `updated_at` of its stored offsets, sampled every 50 ms), and until its `/readyz` answers 200;
- rolling: a second process is started beside the running one (a surge replica), and once it
  is ready the old one gets SIGTERM; measured is the longest stretch without any committed
  batch while the new one joins, and after the SIGTERM.

Each configuration of the consumer group's timing (one row each, one after the other so
that only its own stream and workers run, each on a fresh group, schema and topic prefix
because the embedded broker keeps a group's session timeout from its first member) is
measured KILLS and ROLLS times. A restarted worker keeps its replica name (a container
restarted in its pod); a surge replica gets a new one (a new pod). The baseline is
the stream's own longest gap with one process running undisturbed. Writes
docs/benchmarks-recovery-latest.md.

    .venv/bin/python bench/recovery_bench.py
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaProducer
from harness import SECRET, serve, write_latest

from fourfold.events import HEALTH_TOPIC, USAGE_TOPIC
from fourfold.infra.broker import EmbeddedBroker
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.infra.process import free_port
from fourfold.kafka.topics import ensure_topics, with_dead_letters

HEALTH_APP = "fourfold.health.app:create_app"
PARTITIONS = 12
RATE = 300  # events per second, steady
CUSTOMERS = 300
KILLS = int(os.environ.get("BENCH_KILLS", "5"))
ROLLS = int(os.environ.get("BENCH_ROLLS", "3"))
RESUME_LIMIT_S = 60.0


@dataclass(frozen=True)
class Config:
    """One way to run the consumer group: the environment the worker gets, and its Python
    (another tree's venv runs that tree's code: the "before" of a change)."""

    name: str
    env: dict[str, str]
    python: str = sys.executable


SESSION_2S = {"FOURFOLD_HEALTH_CONSUMER_SESSION_TIMEOUT_MS": "2000"}
BEFORE_PYTHON = os.environ.get("BENCH_BEFORE_PYTHON", sys.executable)
EMPTY_PYCACHE = tempfile.mkdtemp(prefix="fourfold-no-bytecode-")


ALL_CONFIGS = [
    Config(
        "before: session 10 s, heartbeat 1.67 s, no predecessor removal (the old way)",
        {
            "FOURFOLD_HEALTH_CONSUMER_SESSION_TIMEOUT_MS": "10000",
            "FOURFOLD_CONSUMER_HEARTBEAT_INTERVAL_MS": "1666",
            "FOURFOLD_CONSUMER_REMOVE_PREDECESSOR": "false",
        },
    ),
    Config("after: the defaults (session 10 s, heartbeat 0.5 s, predecessor removed)", {}),
    Config(
        "after, session 2 s (the embedded broker holds each join for half the session)",
        SESSION_2S,
    ),
    Config(f"before: session 2 s, the tree of {BEFORE_PYTHON}", SESSION_2S, BEFORE_PYTHON),
    Config(
        "session 2 s, no bytecode cache (every module compiled at start)",
        {**SESSION_2S, "PYTHONPYCACHEPREFIX": EMPTY_PYCACHE},
    ),
]

# Digits in the order to run them, repeats allowed (e.g. "3232": before/after interleaved).
CONFIGS = [ALL_CONFIGS[int(i)] for i in os.environ.get("BENCH_CONFIGS", "012")]


@dataclass
class Figures:
    """What one configuration measured."""

    kill_resume_s: list[float] = field(default_factory=list)
    kill_ready_s: list[float] = field(default_factory=list)
    kill_up_s: list[float] = field(default_factory=list)  # /healthz: imports, migrations
    join_gap_s: list[float] = field(default_factory=list)
    term_gap_s: list[float] = field(default_factory=list)
    steady_gap_s: list[float] = field(default_factory=list)


class Stream:
    """Produce RATE events a second to one topic until stopped, keyed by customer."""

    def __init__(self, bootstrap: str, topic: str, run: str) -> None:
        self._bootstrap, self._topic, self._run = bootstrap, topic, run
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def _event(self, n: int) -> tuple[bytes, bytes]:
        customer = f"rc-{self._run}-{n % CUSTOMERS}"
        day = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=n % 28)
        event = {
            "specversion": "1.0",
            "id": f"{self._run}-{n}",
            "source": "https://product.example.com",
            "type": "usage.reported",
            "time": day.isoformat().replace("+00:00", "Z"),
            "data": {
                "customer_id": customer,
                "metric": "active_users" if n % 3 else f"feature:f{n % 11}",
                "value": 1 + n % 17,
                "period_start": day.isoformat().replace("+00:00", "Z"),
                "period_end": (day + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            },
        }
        return customer.encode(), orjson.dumps(event)

    async def _run_stream(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all", linger_ms=5)
        await producer.start()
        started = time.monotonic()
        try:
            while True:
                due = int((time.monotonic() - started) * RATE)
                for n in range(self.sent, due):
                    key, value = self._event(n)
                    await producer.send(self._topic, value, key=key)
                self.sent = max(self.sent, due)
                await asyncio.sleep(0.02)
        finally:
            await producer.stop()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run_stream())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def health_env(
    bootstrap: str, database_url: str, schema: str, prefix: str, group: str
) -> dict[str, str]:
    """The settings of a health-scoring process on its own schema, topic prefix and group."""
    return {
        "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "FOURFOLD_DATABASE_URL": database_url,
        "FOURFOLD_DATABASE_SCHEMA": schema,
        "FOURFOLD_AUTH_SECRET": SECRET,
        "FOURFOLD_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "FOURFOLD_TOPIC_PARTITIONS": str(PARTITIONS),
        "FOURFOLD_HEALTH_TOPIC_PREFIX": prefix,
        "FOURFOLD_HEALTH_CONSUMER_GROUP": group,
    }


class Worker:
    """One health-scoring process under uvicorn, on its own port."""

    def __init__(self, env: dict[str, str], replica: str, log: Path, python: str) -> None:
        self.replica = replica
        self.port = free_port()
        self.log = log
        self.process = serve(HEALTH_APP, self.port, env, log, python=python)
        self.started = time.time()

    async def wait_ready(self, limit_s: float = 180, path: str = "/readyz") -> float:
        """Seconds from the start until `path` answers 200 (/healthz: the process is up)."""
        url = f"http://127.0.0.1:{self.port}{path}"
        deadline = time.monotonic() + limit_s
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"worker exited\n{self.log.read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code == 200:
                        return time.time() - self.started
                await asyncio.sleep(0.05)
        raise TimeoutError(f"worker not ready\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(30)

    def terminate(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class Commits:
    """When batches committed, sampled every 50 ms: health-scoring stores each partition's
    next offset in the batch's transaction (offsets mode), stamped with that transaction's
    start, so the newest `updated_at` moves once per committed batch."""

    def __init__(self, db: asyncpg.Connection, schema: str) -> None:
        self._db, self._schema = db, schema
        self._seen: list[float] = []
        self._sampler: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Commits:
        self._sampler = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler

    async def _sample(self) -> None:
        while True:
            try:
                value = await self._db.fetchval(
                    f"SELECT max(updated_at) FROM {self._schema}.consumer_offsets"
                )
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                value = None
            if value is not None and (not self._seen or value.timestamp() > self._seen[-1]):
                self._seen.append(float(value.timestamp()))
            await asyncio.sleep(0.05)

    async def wait_first_after(self, moment: float, limit_s: float = RESUME_LIMIT_S) -> float:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            later = [t for t in self._seen if t > moment]
            if later:
                return later[0]
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no batch committed within {limit_s} s")

    async def longest_gap(self, start: float, end: float) -> float:
        """The longest stretch in [start, end] without a committed batch, in seconds."""
        moments = [start, *(t for t in self._seen if start <= t <= end), end]
        return max(b - a for a, b in itertools.pairwise(moments))


class Group:
    """One configuration's stream, group and schema, and the worker that runs it now."""

    def __init__(self, config: Config, bootstrap: str, database_url: str, state: Path) -> None:
        self.config = config
        tag = uuid.uuid4().hex[:6]
        self.prefix, self.schema = f"rb{tag}.", f"recovery_{tag}"
        self.env = {
            **health_env(bootstrap, database_url, self.schema, self.prefix, f"health-{tag}"),
            **config.env,
        }
        self.stream = Stream(bootstrap, self.prefix + USAGE_TOPIC, tag)
        self.state, self.tag = state, tag
        self.figures = Figures()
        self.worker: Worker | None = None

    def spawn(self, replica: str) -> Worker:
        """Start a worker named `replica`: a restart keeps its name, a new pod gets another."""
        env = {**self.env, "FOURFOLD_CONSUMER_INSTANCE": replica}
        log = self.state / f"worker-{self.tag}-{replica}.log"
        return Worker(env, replica, log, self.config.python)


async def kill_round(group: Group, commits: Commits) -> None:
    assert group.worker is not None
    await asyncio.sleep(1.0)  # mid-stream: batches keep committing
    group.worker.kill()
    group.worker = fresh = group.spawn(group.worker.replica)
    restarted = fresh.started
    up = await fresh.wait_ready(path="/healthz")
    ready = await fresh.wait_ready()
    first = await commits.wait_first_after(restarted)
    group.figures.kill_resume_s.append(first - restarted)
    group.figures.kill_ready_s.append(ready)
    group.figures.kill_up_s.append(up)


async def rolling_round(group: Group, commits: Commits) -> None:
    assert group.worker is not None
    old = group.worker
    surge = group.spawn(f"replica-{uuid.uuid4().hex[:6]}")
    try:
        await surge.wait_ready()
    except Exception:
        surge.terminate()
        raise
    await asyncio.sleep(1.0)
    joined = time.time()
    old.terminate()
    stopped = time.time()
    group.worker = surge
    await commits.wait_first_after(stopped)
    await asyncio.sleep(4.0)
    group.figures.join_gap_s.append(await commits.longest_gap(surge.started, joined))
    group.figures.term_gap_s.append(await commits.longest_gap(joined, time.time()))


async def steady_round(group: Group, commits: Commits) -> None:
    start = time.time()
    await asyncio.sleep(3.0)
    group.figures.steady_gap_s.append(await commits.longest_gap(start, time.time()))


@contextlib.asynccontextmanager
async def running(groups: list[Group], db: asyncpg.Connection) -> AsyncIterator[None]:
    for group in groups:
        group.stream.start()
        group.worker = group.spawn(f"replica-{uuid.uuid4().hex[:6]}")
    try:
        for group in groups:
            assert group.worker is not None
            await group.worker.wait_ready()
            async with Commits(db, group.schema) as commits:
                await commits.wait_first_after(group.worker.started)
        yield
    finally:
        for group in groups:
            await group.stream.stop()
            if group.worker is not None:
                group.worker.terminate()


def summary(values: list[float]) -> str:
    if not values:
        return ""
    return (
        f"{statistics.median(values):.1f} (max {max(values):.1f}; "
        + " / ".join(f"{v:.1f}" for v in values)
        + ")"
    )


def report(groups: list[Group], wall_s: float) -> str:
    lines = [
        f"Rounds: {KILLS} kills, {ROLLS} rolling restarts per configuration; stream {RATE}"
        f" events/s over {PARTITIONS} partitions; run took {wall_s:.0f} s; load average"
        f" {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end. Seconds: median"
        " (max; every round).",
        "",
        "| configuration | SIGKILL + restart: first batch | of which the process start"
        " (/healthz) | SIGKILL + restart: /readyz"
        " | rolling: longest gap as the new one joins | rolling: longest gap after SIGTERM"
        " | steady: longest gap (baseline) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for group in groups:
        f = group.figures
        lines.append(
            f"| {group.config.name} | {summary(f.kill_resume_s)} | {summary(f.kill_up_s)}"
            f" | {summary(f.kill_ready_s)}"
            f" | {summary(f.join_gap_s)} | {summary(f.term_gap_s)} | {summary(f.steady_gap_s)} |"
        )
    return "\n".join(lines)


async def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="fourfold-recovery-bench-"))
    wall = time.perf_counter()
    broker = EmbeddedBroker(state).start()
    postgres = EmbeddedPostgres(state).start()
    print(f"state in {state}", flush=True)
    db = await asyncpg.connect(postgres.url().replace("postgresql+asyncpg://", "postgresql://"))
    groups = [Group(c, broker.bootstrap_servers, postgres.url(), state) for c in CONFIGS]
    try:
        await ensure_topics(
            broker.bootstrap_servers,
            with_dead_letters([*(g.prefix + USAGE_TOPIC for g in groups), HEALTH_TOPIC]),
            partitions=PARTITIONS,
        )
        for group in groups:  # one configuration at a time: its stream and worker alone
            async with running([group], db), Commits(db, group.schema) as commits:
                for round_ in range(max(KILLS, ROLLS)):
                    await steady_round(group, commits)
                    if round_ < KILLS:
                        await kill_round(group, commits)
                    if round_ < ROLLS:
                        await rolling_round(group, commits)
                    figures = group.figures
                    print(f"round {round_ + 1} {group.config.name}: {figures}", flush=True)
        table = report(groups, time.perf_counter() - wall)
        print("\n" + table)
        write_latest("benchmarks-recovery-latest.md", "Recovery benchmark", table)
    finally:
        await db.close()
        postgres.stop()
        broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
