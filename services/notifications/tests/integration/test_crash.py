"""A notifications process killed (SIGKILL) mid-stream and restarted: nothing lost, nothing
doubled — every event applied once, every nudge published once, one open nudge at most."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.db.engine import create_engine
from fourfold.events import NUDGES_TOPIC, Envelope, parse_event
from fourfold.kafka.topics import ensure_topics
from fourfold.notifications.domain.snapshot import Snapshot, fold_all, to_json
from fourfold.notifications.settings import NotificationsSettings
from fourfold.testing.kafka import produce_raw, read_topic

if TYPE_CHECKING:
    from conftest import Make, Spawn


pytestmark = pytest.mark.integration

CUSTOMERS = 20
INVOICES = 30  # per customer: a failure, then its payment
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def engine(settings: NotificationsSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url or "", schema=settings.database_schema)
    yield engine
    await engine.dispose()


async def count(engine: AsyncEngine, sql: str) -> int:
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(text(sql)) or 0)
    except Exception:  # the schema does not exist until the process migrated it
        return 0


async def wait_for(engine: AsyncEngine, sql: str, at_least: int, timeout_s: float) -> int:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        found = await count(engine, sql)
        if found >= at_least:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{sql}: only {await count(engine, sql)} of {at_least}")


def stream(make: Make, customers: list[str], partner: str) -> list[Envelope]:
    events: list[Envelope] = []
    for c in customers:
        events.append(make.created(c, partner, start=T0.date()))
    for i in range(INVOICES):
        at = T0 + timedelta(minutes=i)
        for c in customers:
            events.append(make.payment_failed(c, f"in-{i}", at))
            events.append(make.paid(c, f"in-{i}", at + timedelta(seconds=30)))
    return events


async def test_killed_mid_batch_and_restarted_loses_and_doubles_nothing(
    settings: NotificationsSettings, engine: AsyncEngine, make: Make, unique: str, spawn: Spawn
) -> None:
    partner = f"p-{unique}"
    customers = [f"crash-{unique}-{c}" for c in range(CUSTOMERS)]
    events = stream(make, customers, partner)
    log = Path(tempfile.gettempdir()) / f"notifications-crash-{unique}.log"
    bootstrap = settings.kafka_bootstrap_servers or ""
    topic = settings.notifications_topic_prefix + "billing.subscriptions"
    await ensure_topics(bootstrap, [topic], partitions=settings.topic_partitions)
    await produce_raw(bootstrap, topic, [(e.key.encode(), e.to_json_bytes()) for e in events])

    first = spawn(settings, log, CONSUMER_MAX_RECORDS=10)
    await wait_for(engine, "SELECT count(*) FROM inbox", 100, timeout_s=60)
    first.send_signal(signal.SIGKILL)
    await asyncio.to_thread(first.wait, 30)
    before = await count(engine, "SELECT count(*) FROM inbox")
    assert 0 < before < len(events), f"killed mid-stream ({before} applied); see {log}"

    second = spawn(settings, log, CONSUMER_MAX_RECORDS=10)
    try:
        await wait_for(engine, "SELECT count(*) FROM inbox", len(events), timeout_s=90)
        await wait_for(engine, "SELECT 1 - least(count(*), 1) FROM outbox", 1, timeout_s=30)
    finally:
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 30) in (0, -signal.SIGTERM), log

    assert await count(engine, "SELECT count(*) FROM inbox") == len(events)
    by_customer: dict[str, list[Envelope]] = defaultdict(list)
    for event in events:
        by_customer[event.data.customer_id].append(event)  # type: ignore[attr-defined]
    async with engine.connect() as connection:
        stored = {
            r.customer_id: r.doc
            for r in await connection.execute(text("SELECT customer_id, doc FROM snapshots"))
        }
        nudges = list(
            await connection.execute(text("SELECT nudge_id, customer_id, rule, status FROM nudges"))
        )
    for customer, own in by_customer.items():
        assert stored[customer] == to_json(fold_all(Snapshot(customer), own)), customer
    # the last event of every customer paid its invoice: no payment nudge is open
    assert not [n for n in nudges if n.rule == "payment_failed" and n.status != "resolved"]
    open_per_key: dict[tuple[str, str], int] = defaultdict(int)
    for n in nudges:
        open_per_key[(n.customer_id, n.rule)] += n.status != "resolved"
    assert max(open_per_key.values()) <= 1

    # every nudge published, raised and resolved, and nothing else: no lost, no phantom
    resolved = sum(n.status == "resolved" for n in nudges)
    records = await read_topic(
        bootstrap, NUDGES_TOPIC, expect=len(nudges) + resolved, keys={c.encode() for c in customers}
    )
    contents: dict[str, set[bytes]] = defaultdict(set)
    for record in records:
        assert record.value is not None
        contents[parse_event(record.value).id].add(record.value)
    expected = {n.nudge_id for n in nudges} | {
        f"{n.nudge_id}.resolved" for n in nudges if n.status == "resolved"
    }
    assert set(contents) == expected
    assert all(len(payloads) == 1 for payloads in contents.values())
