"""A delivery worker SIGKILLed mid-send: the delivery is neither lost nor doubled — the next
worker takes it over after the lease and sends it with the same webhook-id, so a receiver
that dedupes by webhook-id counts one."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from fourfold.clock import SystemClock
from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.kafka.topics import ensure_topics
from fourfold.notifications import channels
from fourfold.notifications.app import MIGRATIONS_DIR
from fourfold.notifications.receiver import Receiver
from fourfold.notifications.settings import NotificationsSettings
from fourfold.testing.kafka import produce_raw
from fourfold.testing.wait import wait_until

if TYPE_CHECKING:
    from conftest import Make, Spawn

pytestmark = pytest.mark.integration


async def test_a_worker_killed_mid_send_loses_and_doubles_nothing(
    settings: NotificationsSettings, make: Make, unique: str, spawn: Spawn
) -> None:
    url, schema = settings.database_url or "", settings.database_schema
    await upgrade(url=url, schema=schema, migrations_dir=MIGRATIONS_DIR)
    engine = create_engine(url, schema=schema)
    log = Path(tempfile.gettempdir()) / f"notifications-worker-crash-{unique}.log"
    customer, partner = f"c-{unique}", f"p-{unique}"
    async with Receiver() as receiver:
        try:
            async with session_factory(engine)() as session, session.begin():
                await channels.create(
                    session,
                    partner_id=partner,
                    kind="webhook",
                    target=f"{receiver.url}/hold",
                    now=SystemClock().now(),
                )
            topic = settings.notifications_topic_prefix + "billing.subscriptions"
            bootstrap = settings.kafka_bootstrap_servers or ""
            await ensure_topics(bootstrap, [topic], partitions=settings.topic_partitions)
            events = [make.created(customer, partner), make.payment_failed(customer, "in_1")]
            await produce_raw(
                bootstrap, topic, [(e.key.encode(), e.to_json_bytes()) for e in events]
            )

            first = spawn(settings, log, DELIVERY_LEASE_S=2)
            await asyncio.wait_for(receiver.holding.wait(), 60)  # the request is in flight
            first.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.wait, 30)
            receiver.release()  # from now on /hold answers at once

            second = spawn(settings, log, DELIVERY_LEASE_S=2)
            try:

                async def delivered() -> bool:
                    async with engine.connect() as connection:
                        statuses = await connection.scalar(
                            text("SELECT array_agg(DISTINCT status) FROM deliveries")
                        )
                    return bool(statuses == ["delivered"])

                await wait_until(delivered, 60, "the delivery taken over and delivered")
            finally:
                second.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(second.wait, 30) in (0, -signal.SIGTERM), log
            async with engine.connect() as connection:
                rows = list(
                    await connection.execute(text("SELECT delivery_id, attempts FROM deliveries"))
                )
        finally:
            await engine.dispose()
    # claimed by the first worker (one send cut off by the kill), taken over by the second
    # with the same webhook-id: the receiver counts each delivery once, none is missing
    assert {r.headers["webhook-id"] for r in receiver.received} == {r.delivery_id for r in rows}
    assert len(rows) < len(receiver.received) <= 2 * len(rows)
    assert {r.attempts for r in rows} == {2}
