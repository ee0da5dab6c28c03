"""`fourfold.db.bulk` and the consumer's per-poll statements, before and after, in one
process, on the same PostgreSQL.

    .venv/bin/python bench/bulk_bench.py [git-ref-of-before] [database-url]

"Before" is bulk.py (and `fourfold.kafka.consumer`) as it is at the git ref (default
`main`), loaded from `git show`; "after" is the working tree's. Each round runs every
statement of both, interleaved, on batches of 500 rows in a transaction that is rolled back
(tables stay small): health-scoring's customer upsert and history insert, the outbox
staging, and health's select of 500 customers by `any_of`. Then, interleaved the same way,
`BatchConsumer._apply_once` on a poll of 500 parsed records (health_bench's events, three
partitions, a handler that does nothing): inbox mode (the inbox insert; fresh ids every
round, so every row is new, and committed) and offsets mode (the stored-offsets upsert), on
the consumer's held connection as in `run()`. Prints client CPU and wall µs per row or
event, medians over the rounds. Not run by `make bench`.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
import types
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import health_bench
import orjson
from aiokafka.structs import ConsumerRecord
from sqlalchemy import MetaData, select, text

from fourfold.db import bulk
from fourfold.db.engine import create_engine, session_factory
from fourfold.db.runtime_tables import consumer_offsets_table, inbox_table, outbox_table
from fourfold.health.models import customers, metadata, outbox, score_history
from fourfold.kafka import consumer as consumer_module
from fourfold.kafka.cloudevents_binding import parse_record

BATCH = 500
ROUNDS = 30


def before(ref: str, path: str = "shared/src/fourfold/db/bulk.py") -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{ref}:{path}"], check=True, capture_output=True, text=True
    ).stdout
    name = path.rsplit("/", 1)[-1].removesuffix(".py") + "_before"
    module = types.ModuleType(name)
    module.__dict__["__name__"] = name
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{ref}:{path}", "exec"), module.__dict__)
    return module


def batches() -> dict[str, list[dict[str, Any]]]:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    people = [
        {
            "customer_id": f"cus-{n:06d}",
            "partner_id": f"par-{n % 40:03d}",
            "signals": {"usage": {"value": n, "at": "2026-12-01T00:00:00Z"}, "seats": 3},
            "score": 60 + n % 40,
            "computed_score": 60 + n % 40,
            "band": "healthy",
            "step": "steady",
            "trend_7d": n % 9 - 4,
            "trend_30d": None,
            "arr_amount": Decimal("1234.5000"),
            "arr_currency": "EUR",
            "scorecard_version": "default@3",
            "explanation": {"factors": [{"name": "usage", "points": 30}]},
            "scored_at": now,
            "history_at": now,
            "next_recompute_at": now + timedelta(days=1),
            "version": n,
        }
        for n in range(BATCH)
    ]
    history = [
        {
            "customer_id": p["customer_id"],
            "at": now,
            "score": p["score"],
            "computed_score": p["computed_score"],
            "band": "healthy",
            "step": "steady",
            "scorecard_version": "default@3",
            "cause": "event",
            "override": None,
        }
        for p in people
    ]
    events = [
        {
            "topic": "health.changed",
            "key": p["customer_id"],
            "payload": b'{"specversion":"1.0","id":"' + uuid.uuid4().hex.encode() + b'"}' * 4,
            "headers": {"ce_type": "health.changed"},
        }
        for p in people
    ]
    return {"customers": people, "score_history": history, "outbox": events}


async def main(ref: str, url: str) -> None:
    old = before(ref)
    statements = {
        "customers (upsert)": (customers, {"conflict": "customer_id"}),
        "score_history": (score_history, {}),
        "outbox staging": (outbox, {"columns": ("topic", "key", "payload", "headers")}),
    }
    rows = batches()
    schema = f"bulk_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url, schema=schema)
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await connection.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    ids = [p["customer_id"] for p in rows["customers"]]
    try:
        for round_ in range(ROUNDS + 2):  # the first two warm the statement caches
            for version, module in (("before", old), ("after", bulk)):
                query = select(customers.c.customer_id).where(
                    customers.c.customer_id == module.any_of(ids)
                )
                async with sessions() as session:
                    await session.begin()
                    cpu, wall = time.process_time(), time.perf_counter()
                    await session.execute(query)
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    await session.rollback()
                if round_ >= 2:
                    times.setdefault(("customers by any_of (select)", version), []).append(
                        (cpu, wall)
                    )
            for label, (table, options) in statements.items():
                for version, module in (("before", old), ("after", bulk)):
                    insert = module.UnnestInsert(table, **options)
                    batch = rows[table.name]
                    async with sessions() as session:
                        await session.begin()
                        cpu, wall = time.process_time(), time.perf_counter()
                        await insert.execute(session, batch)
                        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                        await session.rollback()
                    if round_ >= 2:
                        times.setdefault((label, version), []).append((cpu, wall))
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()
    await per_poll(ref, url, times)
    print(
        f"batches of {BATCH} rows (polls of {BATCH} events), median of {ROUNDS} rounds, µs per row"
    )
    print("| statement | before CPU | after CPU | before wall | after wall |")
    print("|---|---:|---:|---:|---:|")
    for label in dict.fromkeys(label for label, _ in times):
        b = times[(label, "before")]
        a = times[(label, "after")]

        def med(xs: list[tuple[float, float]], i: int) -> str:
            return f"{statistics.median(x[i] for x in xs) / BATCH * 1e6:.2f}"

        print(f"| {label} | {med(b, 0)} | {med(a, 0)} | {med(b, 1)} | {med(a, 1)} |")


def poll_records(run: str) -> list[ConsumerRecord[bytes, bytes]]:
    """A poll of BATCH records as health_bench produces them, over three partitions."""
    midnight = datetime(2026, 12, 2, tzinfo=UTC)
    events: list[dict[str, Any]] = []
    for i in range(BATCH):
        events.extend(health_bench.usage_for(run, i, midnight))
    return [
        ConsumerRecord(
            topic="usage",
            partition=n % 3,
            offset=n,
            timestamp=0,
            timestamp_type=0,
            key=None,
            value=orjson.dumps(event),
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=0,
            headers=(),
        )
        for n, event in enumerate(events[:BATCH])
    ]


async def per_poll(
    ref: str, url: str, times: dict[tuple[str, str], list[tuple[float, float]]]
) -> None:
    """`_apply_once` of main's consumer and this tree's, interleaved, inbox and offsets mode."""
    old = before(ref, "shared/src/fourfold/kafka/consumer.py")
    schema = f"poll_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url, schema=schema)
    tables = MetaData()
    inbox, outbox_, offsets = (
        inbox_table(tables),
        outbox_table(tables),
        consumer_offsets_table(tables),
    )
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await connection.run_sync(tables.create_all)

    async def nothing(batch: Any) -> None:
        return None

    consumers: dict[tuple[str, str], Any] = {}
    for version, module in (("before", old), ("after", consumer_module)):
        for mode in ("inbox", "offsets"):
            consumer = module.BatchConsumer(
                bootstrap_servers="127.0.0.1:1",
                group_id=f"poll-bench-{version}-{mode}",
                topics=["usage"],
                sessions=session_factory(engine),
                inbox=inbox,
                outbox=outbox_,
                producer=None,
                handler=nothing,
                service="poll-bench",
                offsets=offsets if mode == "offsets" else None,
            )
            consumer._running = True  # the held connection, as in run()
            consumers[(version, mode)] = (module, consumer)
    try:
        for round_ in range(ROUNDS + 2):
            records = poll_records(f"r{round_}-{uuid.uuid4().hex[:6]}")
            events = [parse_record(record) for record in records]
            for mode in ("inbox", "offsets"):
                for version in ("before", "after"):
                    module, consumer = consumers[(version, mode)]
                    items = [module._Parsed(r, e) for r, e in zip(records, events, strict=True)]
                    if mode == "inbox":  # ids unique to this consumer: every row new
                        items = [
                            module._Parsed(r, e.model_copy(update={"id": f"{version}-{e.id}"}))
                            for r, e in zip(records, events, strict=True)
                        ]
                    cpu, wall = time.process_time(), time.perf_counter()
                    await consumer._apply_once(items)
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    if round_ >= 2:
                        times.setdefault((f"poll, {mode} mode (apply_once)", version), []).append(
                            (cpu, wall)
                        )
    finally:
        for _, consumer in consumers.values():
            await consumer._release_connection()
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(
        main(
            sys.argv[1] if len(sys.argv) > 1 else "main",
            sys.argv[2]
            if len(sys.argv) > 2
            else "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        )
    )
