"""A tiny service on the real consumer runtime, used by the runtime's tests.

Its handler counts each event's effect in `effects` (a doubled effect shows as count 2) and
emits one derived event per input through the outbox. Run as a script it is a consumer
process that tests can SIGKILL or SIGTERM:

    python -m fourfold.testing.effects BOOTSTRAP DATABASE_URL SCHEMA TOPIC GROUP \
        [--crash-after-first-commit] [--offsets]

`--offsets` runs the consumer in offsets mode (`consumer_offsets` instead of the inbox).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.db.engine import create_engine, session_factory
from fourfold.db.runtime_tables import consumer_offsets_table, inbox_table, outbox_table
from fourfold.events import NudgeRaised, NudgeRaisedData, UsageReported
from fourfold.kafka.consumer import Batch, BatchConsumer, Handler
from fourfold.kafka.producer import EventProducer

metadata = MetaData()
inbox = inbox_table(metadata)
outbox = outbox_table(metadata)
consumer_offsets = consumer_offsets_table(metadata)
effects = Table(
    "effects",
    metadata,
    Column("event_id", String, primary_key=True),
    Column("customer_id", String, nullable=False),
    Column("count", Integer, nullable=False),
)
POISON_CUSTOMER = "poison"
TIMEOUT_CUSTOMER = "always-times-out"  # looks like an outage, but the database is fine


async def handle(batch: Batch) -> None:
    for event in batch.events:
        assert isinstance(event, UsageReported)
        if event.data.customer_id == POISON_CUSTOMER:
            raise RuntimeError("this customer always fails")
        if event.data.customer_id == TIMEOUT_CUSTOMER:
            raise TimeoutError("a downstream call for this customer always times out")
        await batch.session.execute(
            text(
                "INSERT INTO effects (event_id, customer_id, count) VALUES (:id, :c, 1) "
                "ON CONFLICT (event_id) DO UPDATE SET count = effects.count + 1"
            ),
            {"id": event.id, "c": event.data.customer_id},
        )
        batch.emit(
            NudgeRaised(
                id=f"nudge-{event.id}",
                source="fourfold/test",
                type="nudge.raised",
                time=datetime(2026, 1, 1, tzinfo=UTC),
                data=NudgeRaisedData(
                    nudge_id=f"n-{event.id}",
                    partner_id="p1",
                    customer_id=event.data.customer_id,
                    rule="test",
                    severity="info",
                    title="t",
                    message="m",
                    raised_at=datetime(2026, 1, 1, tzinfo=UTC),
                ),
            )
        )
    await asyncio.sleep(float(os.environ.get("EFFECTS_SLOW_S", "0")))


async def handle_idempotently(batch: Batch) -> None:
    """An effect keyed by event id, as offsets mode requires: a second copy changes nothing."""
    for event in batch.events:
        assert isinstance(event, UsageReported)
        await batch.session.execute(
            text(
                "INSERT INTO effects (event_id, customer_id, count) VALUES (:id, :c, 1) "
                "ON CONFLICT (event_id) DO NOTHING"
            ),
            {"id": event.id, "c": event.data.customer_id},
        )


def build_consumer(
    *,
    bootstrap: str,
    engine: AsyncEngine,
    topic: str,
    group: str,
    producer: EventProducer,
    handler: Handler = handle,
    **options: Any,
) -> BatchConsumer:
    """A consumer of `topic` on the effects tables, tuned for tests (short session timeout)."""
    settings: dict[str, Any] = {"max_records": 50, "session_timeout_ms": 6000, **options}
    return BatchConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        topics=[topic],
        sessions=session_factory(engine),
        inbox=inbox,
        outbox=outbox,
        producer=producer,
        handler=handler,
        service="effects-test",
        **settings,
    )


async def create_tables(url: str, schema: str) -> None:
    engine = create_engine(url, schema=schema)
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await connection.run_sync(metadata.create_all)
    await engine.dispose()


async def main(argv: list[str]) -> int:
    bootstrap, url, schema, topic, group = argv[:5]
    crash_after_first_commit = "--crash-after-first-commit" in argv
    mode: dict[str, Any] = {"offsets": consumer_offsets} if "--offsets" in argv else {}
    if "--instance" in argv:  # the replica's name in the group (default: from the host name)
        mode["instance"] = argv[argv.index("--instance") + 1]
    engine = create_engine(url, schema=schema)
    producer = EventProducer(bootstrap)
    await producer.start()

    def crash() -> None:
        os._exit(17)  # die after the DB commit, before the offset commit

    consumer = build_consumer(
        bootstrap=bootstrap,
        engine=engine,
        topic=topic,
        group=group,
        producer=producer,
        on_committed=crash if crash_after_first_commit else None,
        **mode,
    )
    await consumer.start()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, consumer.stop)
    print("consumer-ready", flush=True)
    await consumer.run()
    await producer.stop()
    await engine.dispose()
    print("consumer-stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
