"""What every benchmark shares: serve an ASGI app with uvicorn in a child process."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import orjson

from fourfold.auth import Role, issue_token
from fourfold.service.tuning import tune_gc

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
SECRET = "bench-secret-bench-secret-bench-secret-00"  # handed to the served apps


def bearer(role: Role) -> dict[str, str]:
    """An Authorization header for `role`, signed with the bench's secret, valid an hour."""
    token = issue_token(
        secret=SECRET,
        issuer="fourfold",
        role=role,
        subject="bench",
        ttl=timedelta(hours=1),
        now=datetime.now(UTC),
    )
    return {"Authorization": f"Bearer {token}"}


async def applied_records(db: asyncpg.Connection, schema: str) -> int:
    """The records a consumer in offsets mode has applied: its stored next offsets, summed
    (on fresh topics, whose offsets start at 0); 0 before its schema exists."""
    try:
        total = await db.fetchval(f"SELECT sum(next_offset) FROM {schema}.consumer_offsets")
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0
    return int(total or 0)


T = TypeVar("T")


async def median_of_three(
    run: Callable[[], Awaitable[T]], rate: Callable[[T], float]
) -> tuple[T, list[T]]:
    """Three passes of a short measurement, one after the other; the median by `rate`, and
    all three (a pass of a few seconds swings with the load, the median less)."""
    passes = [await run() for _ in range(3)]
    return sorted(passes, key=rate)[1], passes


@contextlib.contextmanager
def service_gc() -> Iterator[None]:
    """The garbage collector as every service process sets it (`tune_gc`), for a floor run
    in the bench's process; CPython's defaults come back after, for (a) and (a2)."""
    thresholds = gc.get_threshold()
    tune_gc()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@dataclass
class FloorPace:
    """How a floor's handler is timed, as (a) is: from the end of the first poll's handler to
    the end of the last one's (the first poll pays for the group join), events and CPU alike."""

    total: int
    seen: int = 0
    first_count: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    first_cpu: float = 0.0
    last_cpu: float = 0.0

    def handled(self, events: int) -> bool:
        """Count a handled poll; True once `total` events were handled."""
        self.seen += events
        self.last_at, self.last_cpu = time.perf_counter(), time.process_time()
        if not self.first_at:
            self.first_at, self.first_count, self.first_cpu = (
                self.last_at,
                self.seen,
                self.last_cpu,
            )
        return self.seen >= self.total

    def result(self) -> tuple[int, float, float]:
        """(events, seconds, CPU seconds) after the first poll."""
        return (
            self.seen - self.first_count,
            self.last_at - self.first_at,
            self.last_cpu - self.first_cpu,
        )


def write_latest(filename: str, title: str, table: str) -> Path:
    """Record a run's table in docs/`filename` with a timestamp, and say where."""
    out = ROOT / "docs" / filename
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out.write_text(f"# {title}, {stamp}\n\n{table}\n")
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return out


def serve(
    target: str, port: int, env: dict[str, str], log: Path, *, python: str = sys.executable
) -> subprocess.Popen[bytes]:
    """Run `module:attr` (a factory when it ends in `create_app`) on 127.0.0.1:`port`, with
    `python` (another tree's venv runs that tree's code)."""
    factory = ["--factory"] if target.endswith("create_app") else []
    with log.open("ab") as output:
        return subprocess.Popen(
            [
                python,
                "-m",
                "uvicorn",
                target,
                *factory,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=BENCH_DIR,  # so bench-local apps (bare_app) import
        )


@dataclass(frozen=True)
class WrkResult:
    """What wrk measured in its own process: every request, its latency, its answer."""

    name: str
    requests: int
    seconds: float
    not_accepted: int  # answers other than 202
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


WRK = shutil.which("wrk") or "/usr/bin/wrk"  # `make bench` installs it (Debian: wrk)
WRK_SCRIPT = BENCH_DIR / "unique_events.lua"


def wrk_single_events(
    name: str,
    url: str,
    event: dict[str, Any],
    *,
    token: str,
    prefix: str,
    seconds: float,
    connections: int = 32,
    threads: int = 2,
) -> WrkResult:
    """POST `event` with a unique id per request for `seconds`, from wrk in its own process.

    The id of each request is `prefix-<thread>-<n>`, so no answer is a duplicate.
    """
    marker = "__EVENT_ID__"
    body = orjson.dumps({**event, "id": marker}).decode()
    before, after = body.split(marker)
    command = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        token,
        before,
        after,
        prefix,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return WrkResult(
        name,
        summary["requests"],
        summary["duration_us"] / 1e6,
        summary["not_202"],
        summary["socket_errors"],
        summary["p50_us"] / 1000,
        summary["p99_us"] / 1000,
    )
