"""How the floors that publish run: the shared consumer in offsets mode with its outbox relay.

`ledger_floor` (incentives' (a4)) and `score_floor` (health's (a4)) both make a service's
required writes, `ledger.entry` or `health.changed` among them, so both run the consumer as
the services do: the service's own migrations in a new schema, offsets mode, events staged
in the outbox, the relay woken after each commit, the garbage collector as in a service
process, everything stopped in the services' order (consumer, relay, producer). They are
timed as `delivery_floor` is: from the end of the first poll's handler to the last one's.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from harness import FloorPace, service_gc
from sqlalchemy import Table

from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.kafka.consumer import Batch, BatchConsumer
from fourfold.kafka.outbox import OutboxRelay
from fourfold.kafka.producer import EventProducer

LIMIT_S = 600


async def relayed_floor(
    handle: Callable[[Batch], Awaitable[None]],
    *,
    name: str,
    bootstrap: str,
    database_url: str,
    migrations_dir: Path,
    tables: tuple[Table, Table, Table],
    topics: list[str],
    total: int,
    max_records: int,
) -> tuple[int, float, float]:
    """Run `handle` over `topics` (a new group) until it has seen `total` records; return
    (events, seconds, CPU seconds). `tables` are the service's inbox, outbox and offsets."""
    schema = f"{name.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
    await upgrade(url=database_url, schema=schema, migrations_dir=migrations_dir)
    engine = create_engine(database_url, schema=schema)
    sessions = session_factory(engine)
    pace = FloorPace(total)
    done = asyncio.Event()

    async def timed(batch: Batch) -> None:
        await handle(batch)
        if pace.handled(len(batch.events)):
            done.set()

    inbox, outbox, offsets = tables
    producer = EventProducer(bootstrap, client_id=name)
    relay = OutboxRelay(sessions=sessions, outbox=outbox, producer=producer, service=name)
    consumer = BatchConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"{name}-{uuid.uuid4().hex[:6]}",
        topics=topics,
        sessions=sessions,
        inbox=inbox,
        outbox=outbox,
        producer=producer,
        handler=timed,
        service=name,
        max_records=max_records,
        offsets=offsets,
        on_committed=relay.notify,
    )
    with service_gc():
        await producer.start()
        await consumer.start()
        relaying = asyncio.create_task(relay.run())
        running = asyncio.create_task(consumer.run())
        try:
            await asyncio.wait_for(done.wait(), LIMIT_S)
        finally:
            consumer.stop()
            await running
            relay.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await relaying
            await producer.stop()
            await engine.dispose()
    return pace.result()
