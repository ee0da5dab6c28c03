"""Incentives benchmark (issue #9), in one run on the same embedded broker and PostgreSQL.

(a3) the delivery rules' floor (bench/delivery_floor.py): the shared BatchConsumer (parse,
     inbox, one transaction per poll, offsets after) around a bare upsert, on the same
     pre-produced lifecycle records.
(b)  the incentives service (uvicorn subprocess, FOURFOLD_INCENTIVES_TOPIC_PREFIX) consuming
     those records: 1,000 partners, 50,000 customers (created, first_value, a band change;
     a fifth also expand, a tenth renew, a twentieth cancel early). Rate from its first
     committed batch to its last, read from its inbox. Target: (b) ≥ 50% of (a3).
(s)  a statement for a partner with 100,000 entries in one period: GET
     /v1/incentives/partners/{id}/statements/{period} (HTTP, median of 15) against a bare SQL
     aggregate over the same rows (asyncpg, median of 15). Target: within 3×.
(w)  a what-if over a year for the 1,000 partners (POST /v1/admin/incentives/what-if under
     the active program): seconds, and that its answer equals the ledger (no differences).

    .venv/bin/python bench/incentives_bench.py    (BENCH_CUSTOMERS / BENCH_PARTNERS to scale)

(a3o) the same floor in offsets mode (each partition's next offset stored, no inbox rows),
     the mode the service runs in: (b) is reported against both. (a3) and (a3o) are each the
     median of three passes over the same records.
(a4)  the ledger floor (bench/ledger_floor.py): the same consumer in offsets mode around only
     the writes the specification requires per event (keep the event under its customer's
     lock, append an entry, announce it through the outbox, relayed), no rules: the ceiling
     for (b) on this machine. Median of three passes.

`BENCH_PG_STATS=1` loads pg_stat_statements into the embedded PostgreSQL and prints, after
(b), each statement's calls, rows and server time during (b), and the round trips per batch.
`BENCH_INCENTIVES_APP` (module:create_app) serves another factory, e.g. one that runs the
service under a profiler (PYTHONPATH must reach it).
"""

from __future__ import annotations

import asyncio
import functools
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from delivery_floor import delivery_floor
from harness import SECRET, applied_records, bearer, median_of_three, serve, write_latest
from ledger_floor import ledger_floor

from fourfold.db.engine import asyncpg_dsn
from fourfold.events import ACTIVITY_TOPIC, BILLING_TOPIC, HEALTH_TOPIC, Envelope
from fourfold.incentives.samples import Customer
from fourfold.infra.broker import EmbeddedBroker
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.infra.process import free_port
from fourfold.kafka.topics import ensure_topics, with_dead_letters

CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "50000"))
PARTNERS = int(os.environ.get("BENCH_PARTNERS", "1000"))
BIG_ENTRIES = 100_000
PARTITIONS = 6
MAX_RECORDS = 500
SCHEMA = "incentives_bench"
INPUTS = (BILLING_TOPIC, HEALTH_TOPIC, ACTIVITY_TOPIC)
YEAR = datetime(2026, 1, 1, tzinfo=UTC)
TIMEOUT_S = 900.0


def lives() -> list[Envelope]:
    """Every customer's events, spread over 2026, in event-time order per customer."""
    events: list[Envelope] = []
    for i in range(CUSTOMERS):
        c = Customer(f"bc-{i}", f"bp-{i % PARTNERS}", "USD" if i % 4 else "EUR")
        start = YEAR + timedelta(days=i % 300, minutes=i % 1440)
        events += [
            c.created(start, f"{100 + i % 900}.00"),
            c.milestone(start + timedelta(days=10 + i % 40), "first_value"),
            c.health(start + timedelta(days=12 + i % 30), "green" if i % 3 else "yellow"),
        ]
        if i % 5 == 0:
            events.append(c.expanded(start + timedelta(days=20), f"{1000 + i % 900}.00"))
        if i % 10 == 0:
            events.append(c.renewed(start + timedelta(days=60)))
        if i % 20 == 0:
            events.append(c.cancelled(start + timedelta(days=70)))
    return events


async def produce(bootstrap: str, prefix: str, events: list[Envelope]) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        pending = []
        for event in events:
            pending.append(
                await producer.send(
                    prefix + event.topic, event.to_json_bytes(), key=event.key.encode()
                )
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(events)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def count(db: asyncpg.Connection, table: str) -> int:
    try:
        return int(await db.fetchval(f"SELECT count(*) FROM {SCHEMA}.{table}"))
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0


async def service_rate(
    dsn: str, total: int, process: subprocess.Popen[bytes], log: Path
) -> tuple[float, float, float, int]:
    """(events/s, seconds, service CPU share, entries) from the first commit to the last:
    the records applied are the sum of the next offsets its transactions store (it runs in
    offsets mode; the topics are the run's own, so the sum counts the records applied)."""
    db = await asyncpg.connect(dsn)
    first_at, first_count, first_cpu, seen = 0.0, 0, 0.0, 0
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while seen < total:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"incentives applied {seen} of {total}\n{tail(log)}")
            seen = await applied_records(db, SCHEMA)
            if seen and not first_at:
                first_at, first_count, first_cpu = (
                    time.perf_counter(),
                    seen,
                    cpu_seconds(process.pid),
                )
            if seen < total:
                await asyncio.sleep(0.1)
        seconds = time.perf_counter() - first_at
        busy = (cpu_seconds(process.pid) - first_cpu) / seconds
        entries = await count(db, "entries")
    finally:
        await db.close()
    return (total - first_count) / seconds, seconds, busy, entries


async def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url}: exited\n{tail(log)}")
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(url)


BIG_PARTNER, BIG_PERIOD = "bench-big", "2026-05"


async def seed_big_partner(dsn: str) -> None:
    """100,000 entries of one partner in one period, across rules and two currencies."""
    db = await asyncpg.connect(dsn)
    try:
        await db.execute(
            f"""
            INSERT INTO {SCHEMA}.entries (entry_id, partner_id, customer_id, rule, kind, amount,
                currency, period, earned_period, event_time, payable_at, source_event_id,
                program_id, program_version, reverses_entry_id, inputs)
            SELECT 'big-' || g, $1, 'big-c-' || (g % 5000),
                   (ARRAY['new_logo','upsell','renewal','adoption_bonus'])[1 + g % 4],
                   CASE WHEN g % 25 = 0 THEN 'reversal' ELSE 'accrual' END,
                   CASE WHEN g % 25 = 0 THEN -(g % 997) ELSE g % 997 END + 0.25,
                   CASE WHEN g % 3 = 0 THEN 'EUR' ELSE 'USD' END, $2, $2,
                   timestamptz '2026-05-01' + (g % 2592000) * interval '1 second',
                   timestamptz '2026-05-31', 'big-e-' || g, 'lifecycle', 'default-2026.1',
                   NULL, '{{}}'::jsonb
            FROM generate_series(1, {BIG_ENTRIES}) AS g
            """,
            BIG_PARTNER,
            BIG_PERIOD,
        )
        await db.execute(f"ANALYZE {SCHEMA}.entries")
    finally:
        await db.close()


async def statement_vs_aggregate(url: str, dsn: str) -> tuple[float, float]:
    """Median milliseconds: the statement over HTTP, and the bare aggregate in SQL."""
    headers = bearer("admin")
    path = f"{url}/v1/incentives/partners/{BIG_PARTNER}/statements/{BIG_PERIOD}"
    api: list[float] = []
    async with httpx.AsyncClient(timeout=60) as http:
        for _ in range(16):
            t = time.perf_counter()
            response = await http.get(path, headers=headers)
            api.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, response.text
            assert response.json()["entries"] == BIG_ENTRIES
    db = await asyncpg.connect(dsn)
    bare: list[float] = []
    try:
        for _ in range(16):
            t = time.perf_counter()
            await db.fetch(
                f"SELECT currency, sum(amount) FILTER (WHERE amount > 0), "
                f"sum(amount) FILTER (WHERE amount < 0) FROM {SCHEMA}.entries "
                "WHERE partner_id = $1 AND period = $2 GROUP BY currency",
                BIG_PARTNER,
                BIG_PERIOD,
            )
            bare.append((time.perf_counter() - t) * 1000)
    finally:
        await db.close()
    return statistics.median(api[1:]), statistics.median(bare[1:])


async def what_if_seconds(url: str) -> tuple[float, int, int, int]:
    body = {
        "program_version": "default-2026.1",
        "from": "2026-01-01T00:00:00Z",
        "to": "2027-01-01T00:00:00Z",
    }
    async with httpx.AsyncClient(timeout=600) as http:
        t = time.perf_counter()
        response = await http.post(
            f"{url}/v1/admin/incentives/what-if", json=body, headers=bearer("admin")
        )
        seconds = time.perf_counter() - t
    assert response.status_code == 200, response.text
    answer = response.json()
    rows = [r for r in answer["rows"] if r["partner_id"] != BIG_PARTNER]
    differing = sum(1 for r in rows if float(r["difference"]) != 0)
    return seconds, answer["events"], len(rows), differing


PG_STATS = os.environ.get("BENCH_PG_STATS") == "1"


async def load_pg_stats(postgres: EmbeddedPostgres, dsn: str) -> None:
    """Restart the server with pg_stat_statements preloaded (the same data directory, port)."""
    db = await asyncpg.connect(dsn)
    try:
        await db.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    finally:
        await db.close()
    postgres.stop()
    postgres.start()
    db = await asyncpg.connect(dsn)
    try:
        await db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await db.execute("SELECT pg_stat_statements_reset()")
    finally:
        await db.close()


async def print_pg_stats(dsn: str) -> None:
    """The service's statements during (b): calls, rows, server time, per batch."""
    db = await asyncpg.connect(dsn)
    try:
        rows = await db.fetch(
            "SELECT calls, rows, total_exec_time AS ms, left(regexp_replace(query, '\\s+',"
            " ' ', 'g'), 110) AS q FROM pg_stat_statements"
            " WHERE query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE '%sum(next_offset)%'"
            " ORDER BY total_exec_time DESC LIMIT 40"
        )
    finally:
        await db.close()
    batches = max(
        (r["calls"] for r in rows if "consumer_offsets" in r["q"] and "INSERT" in r["q"]),
        default=0,
    )
    print(f"pg_stat_statements during (b): {batches} batches", flush=True)
    print("| calls | per batch | rows/call | total ms | ms/call | statement |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        per = r["calls"] / batches if batches else 0
        print(
            f"| {r['calls']} | {per:.2f} | {r['rows'] / max(r['calls'], 1):.1f} "
            f"| {r['ms']:.0f} | {r['ms'] / max(r['calls'], 1):.3f} | `{r['q']}` |"
        )


def events_per_s(measured: tuple[int, float, float] | tuple[int, float, float, int]) -> float:
    """The rate of a floor's pass: (events, seconds, …)."""
    return measured[0] / measured[1]


async def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="fourfold-incentives-bench-"))
    run = uuid.uuid4().hex[:6]
    prefix = f"ib{run}."
    broker = EmbeddedBroker(state).start()
    postgres = EmbeddedPostgres(state).start()
    dsn = asyncpg_dsn(postgres.url())
    if PG_STATS:
        await load_pg_stats(postgres, dsn)
    processes: list[subprocess.Popen[bytes]] = []
    print(f"state in {state}; {CUSTOMERS:,} customers, {PARTNERS:,} partners", flush=True)
    try:
        await ensure_topics(
            broker.bootstrap_servers,
            with_dead_letters([prefix + t for t in INPUTS]),
            partitions=PARTITIONS,
        )
        t = time.perf_counter()
        events = lives()
        total = await produce(broker.bootstrap_servers, prefix, events)
        print(f"produced {total:,} records in {time.perf_counter() - t:.1f}s", flush=True)
        # The floors' passes are short (3-8 s) and swing with the load: the median of three
        # (by rate), as the health bench takes them.
        inputs = [prefix + t for t in INPUTS]

        floors: list[tuple[int, float, float]] = []
        for name, offsets in (("(a3) floor", False), ("(a3o) floor, offsets mode", True)):
            median, passes = await median_of_three(
                functools.partial(
                    delivery_floor,
                    broker.bootstrap_servers,
                    postgres.url(),
                    inputs,
                    total,
                    MAX_RECORDS,
                    offsets=offsets,
                ),
                events_per_s,
            )
            floors.append(median)
            print(
                f"{name}: {events_per_s(median):,.0f} events/s (passes: "
                + ", ".join(f"{events_per_s(p):,.0f}" for p in passes)
                + ")",
                flush=True,
            )
        (floor_events, floor_s, floor_cpu), (o_events, o_s, o_cpu) = floors
        floor, floor_o = floor_events / floor_s, o_events / o_s
        ledger, ledger_passes = await median_of_three(
            functools.partial(
                ledger_floor, broker.bootstrap_servers, postgres.url(), inputs, total, MAX_RECORDS
            ),
            events_per_s,
        )
        l_events, l_s, l_cpu, l_entries = ledger
        floor_l = l_events / l_s
        print(
            f"(a4) ledger floor, the required writes without rules: {floor_l:,.0f} events/s "
            f"({l_entries:,} entries; passes: "
            + ", ".join(f"{events_per_s(p):,.0f}" for p in ledger_passes)
            + f"); {floor_l / floor:.0%} of (a3)",
            flush=True,
        )
        if PG_STATS:
            db = await asyncpg.connect(dsn)
            try:
                await db.execute("SELECT pg_stat_statements_reset()")
            finally:
                await db.close()

        log = state / "incentives.log"
        port = free_port()
        env = {
            "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "FOURFOLD_DATABASE_URL": postgres.url(),
            "FOURFOLD_DATABASE_SCHEMA": SCHEMA,
            "FOURFOLD_AUTH_SECRET": SECRET,
            "FOURFOLD_LOG_LEVEL": "WARNING",
            "FOURFOLD_TOPIC_PARTITIONS": str(PARTITIONS),
            "FOURFOLD_INCENTIVES_TOPIC_PREFIX": prefix,
            "FOURFOLD_INCENTIVES_CONSUMER_MAX_RECORDS": str(MAX_RECORDS),
        }
        app = os.environ.get("BENCH_INCENTIVES_APP", "fourfold.incentives.app:create_app")
        service = serve(app, port, env, log)
        processes.append(service)
        rate, seconds, busy, entries = await service_rate(dsn, total, service, log)
        print(
            f"(b) incentives: {rate:,.0f} events/s over {seconds:.1f}s, {entries:,} entries, "
            f"service CPU {busy:.0%} of a core ({busy / rate * 1e6:.0f} µs per event); "
            f"{rate / floor:.0%} of (a3), {rate / floor_o:.0%} of (a3o), "
            f"{rate / floor_l:.0%} of (a4)",
            flush=True,
        )
        if PG_STATS:
            await print_pg_stats(dsn)
        url = f"http://127.0.0.1:{port}"
        await wait_ready(f"{url}/readyz", service, log)
        w_s, w_events, w_rows, w_diff = await what_if_seconds(url)
        print(
            f"(w) what-if over 2026: {w_s:.1f}s, {w_events:,} events, {w_rows} rows, "
            f"{w_diff} differing",
            flush=True,
        )
        await seed_big_partner(dsn)
        api_ms, bare_ms = await statement_vs_aggregate(url, dsn)
        print(
            f"(s) statement {api_ms:.1f} ms vs bare aggregate {bare_ms:.1f} ms: "
            f"{api_ms / bare_ms:.1f}x",
            flush=True,
        )
        table = "\n".join(
            [
                "| measure | result | baseline (same run) | ratio | target |",
                "| --- | --- | --- | --- | --- |",
                f"| accrual throughput, {total:,} lifecycle events, {CUSTOMERS:,} customers, "
                f"{PARTNERS:,} partners | (b) {rate:,.0f} events/s ({entries:,} entries, service "
                f"CPU {busy:.0%} of a core, {busy / rate * 1e6:.0f} µs per event) "
                f"| (a3) {floor:,.0f} events/s (CPU {floor_cpu / floor_s:.0%}, "
                f"{floor_cpu / floor_events * 1e6:.0f} µs per event) "
                f"| {rate / floor:.0%} | ≥ 50% |",
                f"| the same, against the floor in offsets mode (the service's mode) "
                f"| (b) {rate:,.0f} events/s | (a3o) {floor_o:,.0f} events/s (CPU "
                f"{o_cpu / o_s:.0%}, {o_cpu / o_events * 1e6:.0f} µs per event) "
                f"| {rate / floor_o:.0%} | report |",
                f"| the same, against (a4): the writes the ledger must make, no rules "
                f"| (b) {rate:,.0f} events/s | (a4) {floor_l:,.0f} events/s ({l_entries:,} "
                f"entries, CPU {l_cpu / l_s:.0%}, {l_cpu / l_events * 1e6:.0f} µs per event; "
                f"{floor_l / floor:.0%} of (a3)) | {rate / floor_l:.0%} | report |",
                f"| statement, {BIG_ENTRIES:,} entries in one period "
                f"| {api_ms:.1f} ms (HTTP, median) "
                f"| bare SQL aggregate {bare_ms:.1f} ms | {api_ms / bare_ms:.1f}× | ≤ 3× |",
                f"| what-if over 2026, {PARTNERS:,} partners, {w_events:,} kept events "
                f"| {w_s:.1f} s "
                f"({w_rows} partner×rule rows, {w_diff} differ from the ledger) | — | — | report |",
            ]
        )
        print("\n" + table)
        write_latest("benchmarks-incentives-latest.md", "Incentives benchmark", table)
    finally:
        for process in processes:
            stop(process)
        broker.stop()
        postgres.stop()


if __name__ == "__main__":
    asyncio.run(main())
