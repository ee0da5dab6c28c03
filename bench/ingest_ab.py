"""Single-event POSTs, A/B in one process tree: another tree's ingest (the baseline), this
tree's, and the bare route, on one embedded broker and PostgreSQL, under the same wrk load.

`make bench`'s (c)/(d) moves by more between runs on a shared machine than a lever of a few
percent is worth; here both ingests meet the same moment's load. Each round runs the two
ingests (in alternating order) and the bare route, 32 connections, unique ids, every answer
a 202; besides the rates it reports each server process's CPU per request (from /proc),
which moves less with the load than the rate does.

    .venv/bin/python bench/ingest_ab.py /work/wt/main-base [rounds] [seconds]

The baseline tree needs its own venv (`uv sync`); each ingest has its own schema. Optional:
BENCH_PYSPY=/path/to/py-spy records each ingest (raw, 200 Hz) in one more run of each after
the rounds, which the medians leave out (py-spy takes CPU of its own).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from harness import SECRET, WrkResult, bearer, serve, wrk_single_events
from health_bench import cpu_seconds
from ingest_bench import wait_http

from fourfold.events.registry import INPUT_TOPICS
from fourfold.infra.broker import EmbeddedBroker
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.infra.process import free_port
from fourfold.kafka.topics import ensure_topics, with_dead_letters
from fourfold.testing.samples import usage_reported

CONNECTIONS = 32
INGEST_APP = "fourfold.ingest.app:create_app"


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]


@dataclass(frozen=True)
class Measured:
    """One wrk run against one server, with the CPU that server spent on it, and the CPU
    PostgreSQL (every backend) and the broker spent meanwhile, per request."""

    result: WrkResult
    cpu_us_per_request: float
    kernel_us_per_request: float  # of which in the kernel (sockets, wakeups)
    backing_us_per_request: float
    group_requests: float  # requests per group commit, on average (0 for the bare route)


def groups(server: Server) -> tuple[float, float]:
    """The group-size histogram's (sum, count) from the server's /metrics (0s if none)."""
    text = httpx.get(server.url.replace("/v1/events", "/metrics"), timeout=5).text
    found = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        for part in found:
            if line.startswith(f"fourfold_ingest_group_requests_{part} "):
                found[part] = float(line.split()[1])
    return found["sum"], found["count"]


def kernel_seconds(pid: int) -> float:
    """System (kernel) CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants (PostgreSQL's backends)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    spent: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        spent[child] = (int(fields[11]) + int(fields[12])) / tick
    tree = {pid}
    grew = True
    while grew:
        before = len(tree)
        tree |= {child for child, parent in parents.items() if parent in tree}
        grew = len(tree) > before
    return sum(spent.get(member, 0.0) for member in tree)


def measure(
    server: Server, *, token: str, prefix: str, seconds: float, backing: list[int]
) -> Measured:
    grouped_before = groups(server) if server.name != "bare" else (0.0, 0.0)
    backing_before = sum(tree_cpu_seconds(pid) for pid in backing)
    before, kernel_before = cpu_seconds(server.process.pid), kernel_seconds(server.process.pid)
    result = wrk_single_events(
        server.name,
        server.url,
        usage_reported("x", "cust-1"),
        token=token,
        prefix=prefix,
        seconds=seconds,
        connections=CONNECTIONS,
    )
    spent = cpu_seconds(server.process.pid) - before
    kernel = kernel_seconds(server.process.pid) - kernel_before
    backing_spent = sum(tree_cpu_seconds(pid) for pid in backing) - backing_before
    grouped = groups(server) if server.name != "bare" else (0.0, 0.0)
    grouped_requests, group_count = (grouped[0] - grouped_before[0], grouped[1] - grouped_before[1])
    if result.not_accepted or result.socket_errors:
        raise RuntimeError(
            f"{server.name}: {result.not_accepted} answers other than 202,"
            f" {result.socket_errors} socket errors"
        )
    requests = max(result.requests, 1)
    return Measured(
        result,
        spent * 1e6 / requests,
        kernel * 1e6 / requests,
        backing_spent * 1e6 / requests,
        grouped_requests / group_count if group_count else 0.0,
    )


def measure_profiled(
    server: Server, *, pyspy: str, profile: Path, seconds: float, **load: Any
) -> Measured:
    """`measure` with py-spy recording the server meanwhile (raw stacks, 200 Hz)."""
    spy = subprocess.Popen(
        [
            *(pyspy, "record", "-p", str(server.process.pid), "-r", "200"),
            *("-d", f"{seconds:.0f}", "-f", "raw", "-o", str(profile), "--nonblocking"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return measure(server, seconds=seconds, **load)
    finally:
        spy.wait(60)


def start(base: Path, state: Path, env: dict[str, str]) -> list[Server]:
    """The baseline's ingest, this tree's, and the bare route, each on its own port."""
    servers = []
    for name, python, schema in (
        ("base", str(base / ".venv/bin/python"), "ingest_base"),
        ("branch", sys.executable, "ingest_branch"),
    ):
        port = free_port()
        process = serve(
            INGEST_APP,
            port,
            {**env, "FOURFOLD_DATABASE_SCHEMA": schema},
            state / f"{name}.log",
            python=python,
        )
        servers.append(Server(name, f"http://127.0.0.1:{port}/v1/events", process))
    port = free_port()
    bare = serve("bare_app:app", port, env, state / "bare.log")
    servers.append(Server("bare", f"http://127.0.0.1:{port}/v1/events", bare))
    for server in servers:
        wait_http(server.url.replace("/v1/events", "/docs"))
    return servers


def report(rounds: list[dict[str, Measured]]) -> None:
    print(
        "\n| server | requests/s (rounds) | p50 / p99 ms | CPU µs/request (rounds)"
        " | of which kernel | PostgreSQL + broker µs/request | requests per group |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in ("base", "branch", "bare"):
        runs = [r[name] for r in rounds]
        rates = [m.result.rate for m in runs]
        cpus = [m.cpu_us_per_request for m in runs]
        backing = statistics.median(m.backing_us_per_request for m in runs)
        kernel = statistics.median(m.kernel_us_per_request for m in runs)
        per_group = statistics.median(m.group_requests for m in runs)
        middle = sorted(runs, key=lambda m: m.result.rate)[len(runs) // 2].result
        print(
            f"| {name} | {statistics.median(rates):,.0f} ({', '.join(f'{x:,.0f}' for x in rates)})"
            f" | {middle.p50_ms:.1f} / {middle.p99_ms:.1f}"
            f" | {statistics.median(cpus):.0f} ({', '.join(f'{x:.0f}' for x in cpus)})"
            f" | {kernel:.0f} | {backing:.0f} | {per_group:.1f} |"
        )
    for name in ("base", "branch"):
        ratios = [r[name].result.rate / r["bare"].result.rate for r in rounds]
        print(
            f"- {name}/(bare): {statistics.median(ratios):.0%}"
            f" (rounds: {', '.join(f'{x:.0%}' for x in ratios)})"
        )
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"- load average at the end: {load}")


async def main(base: Path, rounds: int, seconds: float) -> None:
    state = Path(tempfile.mkdtemp(prefix="fourfold-ingest-ab-"))
    broker = EmbeddedBroker(state).start()
    postgres = EmbeddedPostgres(state).start()
    servers: list[Server] = []
    try:
        await ensure_topics(broker.bootstrap_servers, with_dead_letters(INPUT_TOPICS), partitions=6)
        env = {
            "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "FOURFOLD_DATABASE_URL": postgres.url(),
            "FOURFOLD_AUTH_SECRET": SECRET,
            "FOURFOLD_LOG_LEVEL": "WARNING",
        }
        servers = start(base, state, env)
        backing = [pid for pid in (postgres.process.pid, broker.process.pid) if pid is not None]
        token = bearer("ingest")["Authorization"].removeprefix("Bearer ")
        run = uuid.uuid4().hex[:6]
        for server in servers:
            measure(server, token=token, prefix=f"w{run}{server.name}", seconds=2, backing=backing)
        results: list[dict[str, Measured]] = []
        print(f"started {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {os.getloadavg()}")
        for n in range(rounds):
            ingests = servers[:2] if n % 2 == 0 else servers[1::-1]
            measured = {
                server.name: measure(
                    server, token=token, prefix=f"r{run}{n}", seconds=seconds, backing=backing
                )
                for server in [*ingests, servers[2]]
            }
            results.append(measured)
            print(
                f"round {n + 1}: "
                + ", ".join(
                    f"{name} {m.result.rate:,.0f}/s {m.cpu_us_per_request:.0f} µs"
                    f" p99 {m.result.p99_ms:.0f} ms"
                    for name, m in measured.items()
                ),
                flush=True,
            )
        report(results)
        pyspy = os.environ.get("BENCH_PYSPY")
        for server in servers if pyspy else []:
            profile = state / f"{server.name}-profile.txt"
            profiled = measure_profiled(
                server,
                pyspy=pyspy,
                profile=profile,
                token=token,
                prefix=f"p{run}",
                seconds=seconds,
                backing=backing,
            )
            print(
                f"{server.name} under py-spy: {profiled.result.rate:,.0f}/s,"
                f" {profiled.cpu_us_per_request:.0f} µs/request; profile {profile}"
            )
    finally:
        for server in servers:
            server.process.terminate()
            server.process.wait(15)
        postgres.stop()
        broker.stop()


if __name__ == "__main__":
    arguments = sys.argv[1:]
    asyncio.run(
        main(
            Path(arguments[0]),
            int(arguments[1]) if len(arguments) > 1 else 4,
            float(arguments[2]) if len(arguments) > 2 else 6.0,
        )
    )
