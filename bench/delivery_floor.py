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
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections import Counter

from sqlalchemy import MetaData, text

from fourfold.db.engine import create_engine, session_factory
from fourfold.db.runtime_tables import consumer_offsets_table, inbox_table, outbox_table
from fourfold.kafka.consumer import Batch, BatchConsumer
from fourfold.kafka.producer import EventProducer
from fourfold.service.tuning import tune_gc

SCHEMA_PREFIX = "delivery_floor"


async def delivery_floor(
    bootstrap: str,
    database_url: str,
    topics: list[str],
    total: int,
    max_records: int,
    *,
    offsets: bool = False,
) -> tuple[int, float, float]:
    """Consume `total` records with the shared consumer; return (events, seconds, CPU seconds).

    Timed like (a): from the end of the first poll's handler to the end of the last one's.
    """
    thresholds = gc.get_threshold()
    tune_gc()  # as the services run the consumer
    try:
        return await _delivery_floor(
            bootstrap, database_url, topics, total, max_records, offsets=offsets
        )
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def _delivery_floor(
    bootstrap: str,
    database_url: str,
    topics: list[str],
    total: int,
    max_records: int,
    *,
    offsets: bool,
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
    seen, first_at, first_count, last_at = 0, 0.0, 0, 0.0
    first_cpu = last_cpu = 0.0
    done = asyncio.Event()

    async def handle(batch: Batch) -> None:
        nonlocal seen, first_at, first_count, last_at, first_cpu, last_cpu
        counts = Counter(str(event.data.customer_id) for event in batch.events)  # type: ignore[attr-defined]
        await batch.session.execute(upsert, {"keys": list(counts), "counts": list(counts.values())})
        seen += len(batch.events)
        last_at, last_cpu = time.perf_counter(), time.process_time()
        if not first_at:
            first_at, first_count, first_cpu = last_at, seen, last_cpu
        if seen >= total:
            done.set()

    producer = EventProducer(bootstrap, client_id="bench-delivery-floor")
    consumer = BatchConsumer(
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
    return seen - first_count, last_at - first_at, last_cpu - first_cpu
