"""(a3) for the health benchmark: what the delivery rules alone cost, with no health work.

The shared `BatchConsumer` (every record parsed with the event contracts, inbox rows for the
poll's event ids, one transaction per poll, offsets committed after it) around a handler
that does what the baseline does: one upsert of one row per distinct customer. The gap
between (a) and (a3) is the price of ARCHITECTURE.md's delivery rules in this runtime; the
gap between (a3) and (b) is the health service's own work (fold, score, persist, publish).

It runs with the garbage collector set as in every service process
(`fourfold.service.tuning.tune_gc`: start-up objects frozen, generation-0 threshold 50,000),
and puts CPython's defaults back afterwards, so (a) and (a2) in the same process keep them.
Measured without it until session 7 of issue #13, (a3) and (a3o) paid for collections that
no service runs (docs/benchmarks.md, "session 7: the floor").

`offsets=True` runs the same consumer in offsets mode: each partition's next offset stored
in the poll's transaction instead of one inbox row per event (the mode is for handlers
idempotent by key; this upsert adds, but nothing is replayed during the measurement).

Run by itself, it compares two versions of the consumer in one process, on one broker and
PostgreSQL, on health_bench's records (its (a) first, as a reference):

    .venv/bin/python bench/delivery_floor.py [git-ref] [pairs] [modes]

`fourfold.kafka.consumer` as it is at the git ref (default `main`, loaded from `git show`)
and this tree's, alternated pass by pass (which goes first alternates too), `pairs` times
(default 4) in each mode; prints each pass and the medians of events/s and CPU µs/event. A
narrower A/B than two whole `health_bench.py` runs, whose (a) moves with the machine's load.

`git-ref` `tree` runs this tree's consumer alone (`pairs` passes per mode): the floors
without (b) and (c), for a profile of one mode (`modes` `a3` or `a3o`; default both) or an
A/B of code outside `consumer.py` across processes (`PYTHONPATH=<other tree>/shared/src`
first). The load average is printed before and after.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import types
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from harness import FloorPace, service_gc
from sqlalchemy import MetaData, text

from fourfold.db.engine import create_engine, session_factory
from fourfold.db.runtime_tables import consumer_offsets_table, inbox_table, outbox_table
from fourfold.kafka.consumer import Batch, BatchConsumer
from fourfold.kafka.producer import EventProducer

if TYPE_CHECKING:
    from collections.abc import Sequence

SCHEMA_PREFIX = "delivery_floor"


async def delivery_floor(
    bootstrap: str,
    database_url: str,
    topics: list[str],
    total: int,
    max_records: int,
    *,
    offsets: bool = False,
    consumer_class: type[BatchConsumer] = BatchConsumer,
) -> tuple[int, float, float]:
    """Consume `total` records with the shared consumer; return (events, seconds, CPU seconds).

    Timed like (a): from the end of the first poll's handler to the end of the last one's.
    """
    with service_gc():  # as the services run the consumer
        return await _delivery_floor(
            bootstrap, database_url, topics, total, max_records, offsets, consumer_class
        )


async def _delivery_floor(
    bootstrap: str,
    database_url: str,
    topics: list[str],
    total: int,
    max_records: int,
    offsets: bool,
    consumer_class: type[BatchConsumer],
) -> tuple[int, float, float]:
    schema = f"{SCHEMA_PREFIX}_{uuid.uuid4().hex[:6]}"
    engine = create_engine(database_url, schema=schema)
    metadata = MetaData()
    inbox, outbox = inbox_table(metadata), outbox_table(metadata)
    stored = consumer_offsets_table(metadata)
    async with engine.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.run_sync(metadata.create_all)
        await connection.execute(
            text(
                "CREATE TABLE customers (customer_id text PRIMARY KEY,"
                " events integer NOT NULL, updated_at timestamptz NOT NULL)"
            )
        )
    upsert = text(
        "INSERT INTO customers AS c (customer_id, events, updated_at)"
        " SELECT k, n, now() FROM unnest(CAST(:keys AS text[]), CAST(:counts AS int[])) AS t(k, n)"
        " ON CONFLICT (customer_id) DO UPDATE SET events = c.events + excluded.events,"
        " updated_at = excluded.updated_at"
    )
    pace = FloorPace(total)
    done = asyncio.Event()

    async def handle(batch: Batch) -> None:
        counts = Counter(str(event.data.customer_id) for event in batch.events)  # type: ignore[attr-defined]
        await batch.session.execute(upsert, {"keys": list(counts), "counts": list(counts.values())})
        if pace.handled(len(batch.events)):
            done.set()

    producer = EventProducer(bootstrap, client_id="bench-delivery-floor")
    consumer = consumer_class(
        bootstrap_servers=bootstrap,
        group_id=f"bench-floor-{uuid.uuid4().hex[:6]}",
        topics=topics,
        sessions=session_factory(engine),
        inbox=inbox,
        outbox=outbox,
        producer=producer,
        handler=handle,
        service="bench-floor",
        max_records=max_records,
        offsets=stored if offsets else None,
    )
    await producer.start()
    await consumer.start()
    running = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(done.wait(), 240)
    finally:
        consumer.stop()
        await running
        await producer.stop()
        await engine.dispose()
    return pace.result()


def consumer_at(ref: str) -> type[BatchConsumer]:
    """`BatchConsumer` as `fourfold.kafka.consumer` is at git `ref`."""
    source = subprocess.run(
        ["git", "show", f"{ref}:shared/src/fourfold/kafka/consumer.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("consumer_at_ref")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{ref}:consumer.py", "exec"), module.__dict__)
    cls: type[BatchConsumer] = module.BatchConsumer
    return cls


async def compare(ref: str, pairs: int, modes: Sequence[str] = ("a3", "a3o")) -> None:
    import health_bench as hb  # the records and (a) of the health benchmark

    from fourfold.infra.broker import EmbeddedBroker
    from fourfold.infra.postgres import EmbeddedPostgres
    from fourfold.kafka.topics import ensure_topics, with_dead_letters

    versions = (
        {"tree": BatchConsumer} if ref == "tree" else {ref: consumer_at(ref), "tree": BatchConsumer}
    )
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    state = Path(tempfile.mkdtemp(prefix="delivery-floor-"))
    run = uuid.uuid4().hex[:6]
    prefix = f"df{run}."
    topics = [prefix + t for t in hb.INPUTS]
    broker = EmbeddedBroker(state).start()
    postgres = EmbeddedPostgres(state).start()
    try:
        await ensure_topics(
            broker.bootstrap_servers, with_dead_letters(topics), partitions=hb.PARTITIONS
        )
        total = await hb.produce(broker.bootstrap_servers, prefix, run)
        dsn = hb.asyncpg_dsn(postgres.url())
        base = [await hb.baseline(broker.bootstrap_servers, dsn, prefix, total) for _ in range(3)]
        print("(a) " + ", ".join(f"{r.rate:,.0f}/s {r.cpu_us_per_event:.1f} µs" for r in base))
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for mode in modes:
            for n in range(pairs):
                order: Sequence[str] = list(versions) if n % 2 == 0 else list(versions)[::-1]
                for name in order:
                    events, seconds, cpu = await delivery_floor(
                        broker.bootstrap_servers,
                        postgres.url(),
                        topics,
                        total,
                        hb.MAX_RECORDS,
                        offsets=mode == "a3o",
                        consumer_class=versions[name],
                    )
                    rate, us = events / seconds, 1e6 * cpu / events
                    results.setdefault((mode, name), []).append((rate, us))
                    print(
                        f"({mode}) {name}: {rate:,.0f} events/s, {us:.1f} CPU µs/event", flush=True
                    )
        ceiling = statistics.median(r.rate for r in base)
        print(f"\n(a) median {ceiling:,.0f} events/s")
        print("| mode | version | events/s (median) | of (a) | CPU µs/event (median) | passes |")
        print("| --- | --- | ---: | ---: | ---: | --- |")
        for (mode, name), passes in results.items():
            rates = statistics.median(p[0] for p in passes)
            cpus = statistics.median(p[1] for p in passes)
            each = " / ".join(f"{p[1]:.1f}" for p in passes)
            share = rates / ceiling
            print(f"| ({mode}) | {name} | {rates:,.0f} | {share:.0%} | {cpus:.1f} | {each} |")
        print(f"load average {os.getloadavg()[0]:.1f}")
    finally:
        postgres.stop()
        broker.stop()


if __name__ == "__main__":
    asyncio.run(
        compare(
            sys.argv[1] if len(sys.argv) > 1 else "main",
            int(sys.argv[2]) if len(sys.argv) > 2 else 4,
            sys.argv[3].split(",") if len(sys.argv) > 3 else ("a3", "a3o"),
        )
    )
