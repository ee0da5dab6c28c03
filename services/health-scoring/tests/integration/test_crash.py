"""A health-scoring process killed (SIGKILL) mid-stream and restarted: one effect per event."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.db.engine import create_engine
from fourfold.events import UsageReported, UsageReportedData
from fourfold.health.settings import HealthSettings
from fourfold.kafka.topics import ensure_topics
from fourfold.testing.kafka import produce_raw

pytestmark = pytest.mark.integration

CUSTOMERS = 20
EVENTS = 3000


def usage(customer: str, i: int) -> UsageReported:
    day = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=i % 90)
    return UsageReported(
        id=f"k-{customer}-{i}",
        source="test/crash",
        type="usage.reported",
        time=day,
        data=UsageReportedData(
            customer_id=customer,
            metric="active_users" if i % 3 else f"feature:f{i % 17}",
            value=1 + i % 23,
            period_start=day,
            period_end=day + timedelta(hours=1),
        ),
    )


def spawn(settings: HealthSettings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "FOURFOLD_DATABASE_URL": settings.database_url or "",
        "FOURFOLD_DATABASE_SCHEMA": settings.database_schema,
        "FOURFOLD_AUTH_SECRET": settings.auth_secret.get_secret_value(),
        "FOURFOLD_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "FOURFOLD_HEALTH_TOPIC_PREFIX": settings.health_topic_prefix,
        "FOURFOLD_HEALTH_CONSUMER_GROUP": settings.health_consumer_group,
        "FOURFOLD_HEALTH_CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "FOURFOLD_HEALTH_CONSUMER_MAX_RECORDS": "10",
        "FOURFOLD_LOG_JSON": "false",
    }
    with log.open("ab") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "fourfold.health.app:create_app",
                "--factory",
                "--port",
                "0",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )


@pytest.fixture
async def engine(health_settings: HealthSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        health_settings.database_url or "", schema=health_settings.database_schema
    )
    yield engine
    await engine.dispose()


async def applied(engine: AsyncEngine) -> int:
    """Records the consumer's transactions applied: its stored next offsets (offsets mode)."""
    try:
        async with engine.connect() as connection:
            total = await connection.scalar(text("SELECT sum(next_offset) FROM consumer_offsets"))
    except Exception:  # the schema does not exist until a process migrated it
        return 0
    return int(total or 0)


async def wait_applied(engine: AsyncEngine, at_least: int, timeout_s: float) -> int:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        count = await applied(engine)
        if count >= at_least:
            return count
        await asyncio.sleep(0.02)
    raise AssertionError(f"only {await applied(engine)} of {at_least} events applied")


async def test_killed_mid_stream_and_restarted_leaves_one_effect_per_event(
    health_settings: HealthSettings, engine: AsyncEngine, unique: str, one_effect_per_event: Any
) -> None:
    customers = [f"crash-{unique}-{c}" for c in range(CUSTOMERS)]
    events = [usage(customers[i % CUSTOMERS], i) for i in range(EVENTS)]
    log = Path(tempfile.gettempdir()) / f"health-crash-{unique}.log"

    topic = health_settings.health_topic_prefix + "product.usage"
    bootstrap = health_settings.kafka_bootstrap_servers or ""
    await ensure_topics(bootstrap, [topic], partitions=health_settings.topic_partitions)
    await produce_raw(bootstrap, topic, [(e.key.encode(), e.to_json_bytes()) for e in events])

    first = spawn(health_settings, log)
    await wait_applied(engine, 50, timeout_s=60)
    first.send_signal(signal.SIGKILL)
    await asyncio.to_thread(first.wait, 30)
    before_kill = await applied(engine)
    assert 0 < before_kill < EVENTS, f"killed mid-stream ({before_kill} applied); see {log}"

    second = spawn(health_settings, log)
    try:
        await wait_applied(engine, EVENTS, timeout_s=90)
        await wait_outbox_drained(engine)
    finally:
        second.send_signal(signal.SIGTERM)
        # uvicorn re-raises the SIGTERM it handled once shut down cleanly: -15, not a crash
        assert await asyncio.to_thread(second.wait, 30) in (0, -signal.SIGTERM), log

    await one_effect_per_event(engine, bootstrap, events, customers)


async def wait_outbox_drained(engine: AsyncEngine, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        async with engine.connect() as connection:
            if not await connection.scalar(text("SELECT count(*) FROM outbox")):
                return
        await asyncio.sleep(0.1)
    raise AssertionError("outbox not drained")
