"""Notifications benchmark (issue #10), each against a baseline measured in the same run.

(a) one scheduled evaluation pass (the service's own `Evaluator.evaluate_all`: lock the
    due snapshots in chunks of 1,000 with SKIP LOCKED, load their current nudges, evaluate
    the five rules, write what changed and when each is due next, stage the events) over
    100,000 customer snapshots in PostgreSQL, against (a0) a bare read of the same rows in
    the same chunks through the same engine (keyset `SELECT customer_id, doc … LIMIT 1000`,
    JSON decoded). Reported: the first pass (it walks all and raises the nudges), the
    steady pass (the next ones, 5, 10 and 15 minutes later: only the due snapshots are
    evaluated), a pass walking all 100,000 (what a scheduler's first pass costs once
    the nudges exist), median of 3 each, and the daily peak: the passes at the next three
    midnights UTC, each against a bare read just before it, median of 3.
(b) delivery throughput: the service's DeliveryWorker (32 in flight, 4 per endpoint) sends
    5,000 pending webhook deliveries spread over 100 endpoints of a local receiver running in
    its own process; 10 endpoints answer 500 (one immediate retry, then dead-lettered).
    Against (b0) a bare httpx client posting the same bodies to the same URLs once each,
    32 in flight, no signing, no database.

Runs on the embedded PostgreSQL (or FOURFOLD_DATABASE_URL when set).

    .venv/bin/python bench/notifications_bench.py [--evaluation-only]
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from harness import write_latest
from sqlalchemy import text

from fourfold.clock import ManualClock
from fourfold.db.engine import asyncpg_dsn, create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.notifications.app import MIGRATIONS_DIR
from fourfold.notifications.delivery.senders import WebhookSender
from fourfold.notifications.delivery.signing import generate_secret, new_secret_entry
from fourfold.notifications.delivery.worker import DeliveryWorker
from fourfold.notifications.domain.config import Retry, default_config
from fourfold.notifications.evaluation import Ruleset
from fourfold.notifications.models import outbox
from fourfold.notifications.scheduler import Evaluator

SNAPSHOTS = 100_000
ENDPOINTS = 100
FAILING = 10
DELIVERIES = 5_000
CONCURRENCY = 32
NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
RECEIVER_PORT = 18291
INTERVAL_S = 300  # the scheduler's default interval


def snapshot_doc(i: int, rng: random.Random) -> dict[str, Any]:
    start = NOW - timedelta(days=rng.randint(1, 400))
    seats = rng.choice([5, 10, 20, 50])
    in_use = rng.randint(0, seats)
    score_points = [
        [(NOW - timedelta(days=d)).timestamp(), rng.randint(20, 95)]
        for d in sorted(rng.sample(range(1, 60), 4), reverse=True)
    ]
    utilisation = [
        [(NOW - timedelta(days=d)).timestamp(), rng.choice([0.5, 0.92, 0.95])] for d in (40, 20)
    ]
    invoices = {f"in_{i}": [(NOW - timedelta(days=3)).isoformat(), None]} if i % 17 == 0 else {}
    return {
        "partner_id": f"p-{i % 500}",
        "subscription_start": start.date().isoformat(),
        "term_end": (start + timedelta(days=365)).date().isoformat(),
        "cancelled": False,
        "seats": seats,
        "seats_in_use": in_use,
        "utilisation": in_use / seats,
        "milestones": rng.sample(
            ["kickoff", "configured", "users_trained", "first_value"], rng.randint(0, 4)
        ),
        "band": rng.choice(["red", "yellow", "green", "green"]),
        "score": score_points[-1][1],
        "scored_at": datetime.fromtimestamp(score_points[-1][0], UTC).isoformat(),
        "last_expansion_at": None,
        "scores": score_points,
        "utilisations": utilisation,
        "invoices": invoices,
    }


async def fill_snapshots(dsn: str, schema: str) -> None:
    rng = random.Random(10)
    connection = await asyncpg.connect(dsn)
    try:
        rows = [
            (f"c-{i:06d}", f"p-{i % 500}", json.dumps(snapshot_doc(i, rng)), NOW)
            for i in range(SNAPSHOTS)
        ]
        await connection.copy_records_to_table(
            "snapshots",
            schema_name=schema,
            records=rows,
            columns=["customer_id", "partner_id", "doc", "updated_at"],
        )
    finally:
        await connection.close()


async def bare_read(engine: Any) -> float:
    sessions = session_factory(engine)
    started = time.perf_counter()
    after, total = "", 0
    while True:
        async with sessions() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT customer_id, doc FROM snapshots WHERE customer_id > :after"
                        " ORDER BY customer_id LIMIT 1000"
                    ).columns(),
                    {"after": after},
                )
            ).all()
        decoded = [(r[0], r[1] if isinstance(r[1], dict) else json.loads(r[1])) for r in rows]
        total += len(decoded)
        if len(rows) < 1000:
            break
        after = rows[-1][0]
    assert total == SNAPSHOTS, total
    return time.perf_counter() - started


async def evaluation(url: str) -> dict[str, float]:
    schema = f"bench_n_{uuid.uuid4().hex[:6]}"
    await upgrade(url=url, schema=schema, migrations_dir=MIGRATIONS_DIR)
    await fill_snapshots(asyncpg_dsn(url), schema)
    engine = create_engine(url, schema=schema)
    try:
        evaluator = Evaluator(
            sessions=session_factory(engine),
            outbox=outbox,
            ruleset=Ruleset.of(default_config()),
            clock=ManualClock(NOW),
            interval_s=3600,
            batch_size=1000,
        )
        started = time.perf_counter()
        assert await evaluator.evaluate_all(NOW) == SNAPSHOTS
        first = time.perf_counter() - started
        async with engine.connect() as connection:
            raised = int(await connection.scalar(text("SELECT count(*) FROM nudges")) or 0)
        steady, full, bare, due = [], [], [], []
        for round_ in range(1, 4):  # interleaved, median of three
            bare.append(await bare_read(engine))
            at = NOW + timedelta(seconds=INTERVAL_S * round_)  # the service's next passes
            started = time.perf_counter()
            due.append(await evaluator.evaluate_all(at))
            steady.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert await evaluator.evaluate_all(at, everything=True) == SNAPSHOTS
            full.append(time.perf_counter() - started)
        peak, peak_bare, peak_due = [], [], []
        for day in range(3):  # the daily peak: the passes at the next three midnights UTC
            midnight = datetime.combine(NOW.date(), datetime.min.time(), UTC) + timedelta(
                days=day + 1
            )
            if day:  # what fell due since the last midnight (e.g. at noon) is not its work
                await evaluator.evaluate_all(midnight - timedelta(hours=12) + timedelta(seconds=1))
            peak_bare.append(await bare_read(engine))
            started = time.perf_counter()
            peak_due.append(await evaluator.evaluate_all(midnight))
            peak.append(time.perf_counter() - started)
        return {
            "peak_s": statistics.median(peak),
            "peak_bare_s": statistics.median(peak_bare),
            "peak_due": statistics.median(peak_due),
            "first_s": first,
            "raised": raised,
            "steady_s": statistics.median(steady),
            "due": statistics.median(due),
            "full_s": statistics.median(full),
            "bare_s": statistics.median(bare),
        }
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


def receiver() -> subprocess.Popen[bytes]:
    log = Path(tempfile.gettempdir()) / "notifications-bench-receiver.log"
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "fourfold.notifications.receiver", "--port", str(RECEIVER_PORT)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def target(endpoint: int) -> str:
    path = "/status/500" if endpoint < FAILING else "/ok"
    return f"http://127.0.0.1:{RECEIVER_PORT}{path}?e={endpoint}"


def body(i: int) -> dict[str, Any]:
    return {
        "type": "nudge.raised",
        "timestamp": NOW.isoformat(),
        "data": {
            "nudge_id": f"ndg_{i}",
            "partner_id": f"p-{i % ENDPOINTS}",
            "customer_id": f"c-{i}",
            "rule": "implement_stalled",
            "severity": "warning",
            "title": f"Onboarding of c-{i} has stalled after 23 days",
            "next_step": "Book a working session: only 10% of seats are active (target 30%).",
            "facts": {
                "days_since_start": 23,
                "activation": 0.1,
                "activation_below": 0.3,
                "missing_milestones": [],
            },
            "raised_at": NOW.isoformat(),
        },
    }


async def bare_posts() -> float:
    async with httpx.AsyncClient(
        timeout=10, limits=httpx.Limits(max_connections=CONCURRENCY)
    ) as client:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def post(i: int) -> None:
            async with semaphore:
                payload = json.dumps(body(i), separators=(",", ":")).encode()
                await client.post(
                    target(i % ENDPOINTS),
                    content=payload,
                    headers={"content-type": "application/json"},
                )

        started = time.perf_counter()
        await asyncio.gather(*(post(i) for i in range(DELIVERIES)))
        return time.perf_counter() - started


async def worker_run(url: str) -> dict[str, float]:
    schema = f"bench_d_{uuid.uuid4().hex[:6]}"
    await upgrade(url=url, schema=schema, migrations_dir=MIGRATIONS_DIR)
    engine = create_engine(url, schema=schema)
    clock = ManualClock(datetime.now(UTC))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO channels (channel_id, partner_id, kind, target, enabled, secrets,"
                    " created_at, updated_at)"
                    " VALUES (:c, :p, 'webhook', :t, true, CAST(:s AS jsonb), :n, :n)"
                ),
                [
                    {
                        "c": f"ch_{e}",
                        "p": f"p-{e}",
                        "t": target(e),
                        "s": json.dumps([new_secret_entry(generate_secret(), clock.now())]),
                        "n": clock.now(),
                    }
                    for e in range(ENDPOINTS)
                ],
            )
            await connection.execute(
                text(
                    "INSERT INTO deliveries (delivery_id, partner_id, channel_id, kind, nudge_id,"
                    " status, attempts, next_attempt_at, payload, created_at) VALUES (:d, :p, :c,"
                    " 'nudge', :n, 'pending', 0, :at, CAST(:b AS jsonb), :at)"
                ),
                [
                    {
                        "d": f"msg_{i}",
                        "p": f"p-{i % ENDPOINTS}",
                        "c": f"ch_{i % ENDPOINTS}",
                        "n": f"ndg_{i}",
                        "at": clock.now(),
                        "b": json.dumps(body(i)),
                    }
                    for i in range(DELIVERIES)
                ],
            )
        sessions = session_factory(engine)
        async with httpx.AsyncClient(
            timeout=10, limits=httpx.Limits(max_connections=CONCURRENCY)
        ) as client:
            worker = DeliveryWorker(
                sessions=sessions,
                senders={"webhook": WebhookSender(client, clock)},
                clock=clock,
                retry=Retry(delays_s=(0,), jitter=0),
                concurrency=CONCURRENCY,
                per_endpoint=4,
                poll_s=0.05,
            )
            started = time.perf_counter()
            running = asyncio.create_task(worker.run())
            while True:
                async with engine.connect() as connection:
                    left = await connection.scalar(
                        text(
                            "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')"
                        )
                    )
                if not left:
                    break
                await asyncio.sleep(0.02)
            seconds = time.perf_counter() - started
            worker.stop()
            await running
        async with engine.connect() as connection:
            outcome: dict[str, int] = dict(
                (
                    await connection.execute(
                        text("SELECT status, count(*) FROM deliveries GROUP BY status")
                    )
                ).all()
            )
            attempts = int(
                await connection.scalar(text("SELECT count(*) FROM delivery_attempts")) or 0
            )
        assert outcome.get("delivered") == DELIVERIES * (ENDPOINTS - FAILING) // ENDPOINTS, outcome
        return {"seconds": seconds, "attempts": attempts, "dead": outcome.get("dead", 0)}
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # 500 dead letters are expected here, not news
    url = os.environ.get("FOURFOLD_DATABASE_URL")
    postgres = None
    if not url:
        postgres = EmbeddedPostgres(
            Path(tempfile.mkdtemp(prefix="fourfold-notifications-bench-"))
        ).start()
        url = postgres.url()
    served = receiver()
    try:
        ev = await evaluation(url)
        print(f"(a) {ev}", flush=True)
        if "--evaluation-only" in sys.argv:
            peak_ratio = ev["peak_bare_s"] / ev["peak_s"]
            print(
                f"midnight pass {ev['peak_s']:.2f}s for {ev['peak_due']:,.0f} due, bare read "
                f"{ev['peak_bare_s']:.2f}s: {peak_ratio:.0%};"
                f" walk {ev['bare_s'] / ev['full_s']:.0%}"
            )
            return
        await asyncio.sleep(0.5)  # the receiver is up by now
        bare, runs = [], []
        for _ in range(3):
            bare.append(await bare_posts())
            runs.append(await worker_run(url))
        b0 = statistics.median(bare)
        run = sorted(runs, key=lambda r: r["seconds"])[1]
        print(f"(b) {run}; (b0) {b0:.2f}s", flush=True)
    finally:
        served.terminate()
        served.wait(10)
        if postgres is not None:
            postgres.stop()
    steady_ratio = ev["bare_s"] / ev["steady_s"]
    full_ratio = ev["bare_s"] / ev["full_s"]
    first_ratio = ev["bare_s"] / ev["first_s"]
    delivery_ratio = b0 / run["seconds"]
    request_ratio = (b0 / DELIVERIES) * (run["attempts"] / run["seconds"])
    per_s = (
        SNAPSHOTS / ev["bare_s"],
        SNAPSHOTS / ev["steady_s"],
        SNAPSHOTS / ev["first_s"],
        SNAPSHOTS / ev["full_s"],
    )
    sent = DELIVERIES / b0, DELIVERIES / run["seconds"], run["attempts"] / run["seconds"]
    rows = [
        ("measurement", "rate", "vs baseline", "target"),
        ("---", "---:", "---:", "---:"),
        (f"(a0) bare read of {SNAPSHOTS:,} snapshots", f"{per_s[0]:,.0f} rows/s", "", ""),
        (
            f"(a) evaluation pass, steady (evaluates the {ev['due']:,.0f} due)",
            f"{per_s[1]:,.0f} snapshots/s",
            f"**{steady_ratio:.0%}**",
            "≥ 25%",
        ),
        (
            f"(a) evaluation pass at midnight UTC, daily peak (evaluates {ev['peak_due']:,.0f})",
            f"{SNAPSHOTS / ev['peak_s']:,.0f} snapshots/s",
            f"**{ev['peak_bare_s'] / ev['peak_s']:.0%}**",
            "≥ 25%",
        ),
        (
            "(a) evaluation pass walking all (a scheduler's first)",
            f"{per_s[3]:,.0f} snapshots/s",
            f"{full_ratio:.0%}",
            "",
        ),
        (
            f"(a) first pass (raises {ev['raised']:,})",
            f"{per_s[2]:,.0f} snapshots/s",
            f"{first_ratio:.0%}",
            "",
        ),
        (f"(b0) bare httpx posts, {CONCURRENCY} in flight", f"{sent[0]:,.0f} posts/s", "", ""),
        (
            f"(b) worker, {FAILING}% endpoints failing",
            f"{sent[1]:,.0f} deliveries/s",
            f"**{delivery_ratio:.0%}**",
            "≥ 50%",
        ),
        (
            f"(b) same, in requests ({run['attempts']:,})",
            f"{sent[2]:,.0f} requests/s",
            f"{request_ratio:.0%}",
            "",
        ),
    ]
    table = "\n".join("| " + " | ".join(cells) + " |" for cells in rows)
    print(table)
    write_latest("benchmarks-notifications-latest.md", "Latest notifications benchmark", table)


if __name__ == "__main__":
    asyncio.run(main())
