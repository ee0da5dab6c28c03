"""An incentives process killed (SIGKILL) mid-stream and restarted, then a consumer group
that replays every event from the start: exactly one entry per (event, rule, partner), the
same entries a replay of the rules computes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.db.engine import create_engine
from fourfold.events import Envelope
from fourfold.incentives.domain.accrual import replay
from fourfold.incentives.domain.program import ProgramSet, default_program
from fourfold.incentives.samples import Customer
from fourfold.incentives.settings import IncentivesSettings
from fourfold.kafka.topics import ensure_topics
from fourfold.testing.kafka import produce_raw

pytestmark = pytest.mark.integration

CUSTOMERS = 150
START = datetime(2027, 1, 4, tzinfo=UTC)


def lives(unique: str) -> list[Envelope]:
    events: list[Envelope] = []
    for i in range(CUSTOMERS):
        c = Customer(f"crash-{unique}-{i}", f"p-{i % 7}")
        at = START + timedelta(hours=i)
        events += [
            c.created(at, f"{100 + i}.00"),
            c.milestone(at + timedelta(days=5 + i % 40), "first_value"),
            c.expanded(at + timedelta(days=20), f"{200 + i}.00"),
            c.renewed(at + timedelta(days=365)),
        ]
        if i % 5 == 0:
            events.append(c.cancelled(at + timedelta(days=30)))
    return events


def spawn(settings: IncentivesSettings, group: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "FOURFOLD_DATABASE_URL": settings.database_url or "",
        "FOURFOLD_DATABASE_SCHEMA": settings.database_schema,
        "FOURFOLD_AUTH_SECRET": settings.auth_secret.get_secret_value(),
        "FOURFOLD_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "FOURFOLD_INCENTIVES_TOPIC_PREFIX": settings.incentives_topic_prefix,
        "FOURFOLD_INCENTIVES_CONSUMER_GROUP": group,
        "FOURFOLD_INCENTIVES_CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "FOURFOLD_INCENTIVES_CONSUMER_MAX_RECORDS": "10",
        "FOURFOLD_LOG_JSON": "false",
    }
    argv = [sys.executable, "-m", "uvicorn", "fourfold.incentives.app:create_app", "--factory"]
    with log.open("ab") as output:
        return subprocess.Popen(
            [*argv, "--port", "0"], stdout=output, stderr=subprocess.STDOUT, env=env
        )


@pytest.fixture
async def engine(incentives_settings: IncentivesSettings) -> AsyncIterator[AsyncEngine]:
    settings = incentives_settings
    engine = create_engine(settings.database_url or "", schema=settings.database_schema)
    yield engine
    await engine.dispose()


async def applied(engine: AsyncEngine, group: str) -> int:
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text("SELECT sum(next_offset) FROM consumer_offsets WHERE consumer = :g"),
                {"g": group},
            )
            return int(count or 0)
    except Exception:  # the schema does not exist until the process migrated it
        return 0


async def wait_applied(engine: AsyncEngine, group: str, at_least: int, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await applied(engine, group) >= at_least:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {await applied(engine, group)} of {at_least} events applied")


async def stop(process: subprocess.Popen[bytes], log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 30) in (0, -signal.SIGTERM), log


async def test_killed_restarted_and_replayed_leaves_one_entry_per_identity(
    incentives_settings: IncentivesSettings, engine: AsyncEngine, unique: str
) -> None:
    settings = incentives_settings
    events = lives(unique)
    log = Path(tempfile.gettempdir()) / f"incentives-crash-{unique}.log"
    bootstrap = settings.kafka_bootstrap_servers or ""
    by_topic: dict[str, list[tuple[bytes | None, bytes]]] = {}
    for event in events:
        topic = settings.incentives_topic_prefix + event.topic
        by_topic.setdefault(topic, []).append((event.key.encode(), event.to_json_bytes()))
    await ensure_topics(bootstrap, list(by_topic), partitions=settings.topic_partitions)
    for topic, records in by_topic.items():
        await produce_raw(bootstrap, topic, records)
    group = settings.incentives_consumer_group

    first = spawn(settings, group, log)
    await wait_applied(engine, group, 60, timeout_s=60)
    first.send_signal(signal.SIGKILL)
    await asyncio.to_thread(first.wait, 30)
    before_kill = await applied(engine, group)
    assert 0 < before_kill < len(events), f"killed mid-stream ({before_kill}); see {log}"

    second = spawn(settings, group, log)
    try:
        await wait_applied(engine, group, len(events), timeout_s=120)
    finally:
        await stop(second, log)

    replaying = spawn(settings, f"{group}-replay", log)  # a new group reads everything again
    try:
        await wait_applied(engine, f"{group}-replay", len(events), timeout_s=120)
    finally:
        await stop(replaying, log)

    async with engine.connect() as connection:
        rows = list(await connection.execute(text("SELECT entry_id, amount FROM entries")))
        duplicates = await connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM entries GROUP BY source_event_id, rule, "
                "partner_id, reverses_entry_id HAVING count(*) > 1) d"
            )
        )
    expected, _ = replay(events, ProgramSet([default_program()]))
    assert duplicates == 0
    assert {r.entry_id: Decimal(r.amount) for r in rows} == {e.entry_id: e.amount for e in expected}
