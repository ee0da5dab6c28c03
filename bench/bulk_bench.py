"""`fourfold.db.bulk.UnnestInsert` before and after, in one process, on the same PostgreSQL.

    .venv/bin/python bench/bulk_bench.py [git-ref-of-before] [database-url]

"Before" is bulk.py as it is at the git ref (default `main`), loaded from `git show`; "after"
is the working tree's. Each round runs every statement of both, interleaved, on batches of
500 rows in a transaction that is rolled back (tables stay small): health-scoring's
customer upsert and history insert, and the outbox staging. Prints client CPU and wall
µs per row, medians over the rounds. Not run by `make bench`.
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

from sqlalchemy import text

from fourfold.db import bulk
from fourfold.db.engine import create_engine, session_factory
from fourfold.health.models import customers, metadata, outbox, score_history

BATCH = 500
ROUNDS = 30


def before(ref: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{ref}:shared/src/fourfold/db/bulk.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("bulk_before")
    module.__dict__["__name__"] = "bulk_before"
    exec(compile(source, f"{ref}:bulk.py", "exec"), module.__dict__)
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
    try:
        for round_ in range(ROUNDS + 2):  # the first two warm the statement caches
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
    print(f"batches of {BATCH} rows, median of {ROUNDS} rounds, µs per row")
    print("| statement | before CPU | after CPU | before wall | after wall |")
    print("|---|---:|---:|---:|---:|")
    for label in statements:
        b = times[(label, "before")]
        a = times[(label, "after")]

        def med(xs: list[tuple[float, float]], i: int) -> str:
            return f"{statistics.median(x[i] for x in xs) / BATCH * 1e6:.2f}"

        print(f"| {label} | {med(b, 0)} | {med(a, 0)} | {med(b, 1)} | {med(a, 1)} |")


if __name__ == "__main__":
    asyncio.run(
        main(
            sys.argv[1] if len(sys.argv) > 1 else "main",
            sys.argv[2]
            if len(sys.argv) > 2
            else "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        )
    )
