"""Scale-out on the real broker: two health-scoring workers in one consumer group over 12
partitions reach exactly the state one worker reaches on the same records, and a worker
killed mid-stream (a rebalance) loses and doubles nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.clock import ManualClock
from fourfold.db.engine import create_engine
from fourfold.events import HEALTH_TOPIC, Envelope, parse_event
from fourfold.health.settings import HealthSettings
from fourfold.kafka.topics import ensure_topics, with_dead_letters
from fourfold.testing.fixtures import drop_schemas
from fourfold.testing.kafka import group_members, produce_raw, read_topic
from fourfold.testing.wait import wait_until

if TYPE_CHECKING:
    from conftest import Make

pytestmark = pytest.mark.integration

PARTITIONS = 12
CUSTOMERS = 36


def waves(make: Make, tag: str) -> list[list[Envelope]]:
    """Each wave holds at most one event per customer, so every customer is scored after the
    same events whichever worker and batch apply them: the end state can be compared exactly."""
    now = make.clock.now()
    customers = [f"so-{tag}-{c}" for c in range(CUSTOMERS)]
    partner = [f"p-{tag}-{c % 5}" for c in range(CUSTOMERS)]
    out: list[list[Envelope]] = [
        [make.created(c, partner[i], seats=5 + i % 20) for i, c in enumerate(customers)]
    ]
    for d in range(1, 8):
        out.append(
            [
                make.usage(c, "active_users", (i * d) % (5 + i % 20), now - timedelta(days=d))
                for i, c in enumerate(customers)
            ]
        )
    out.append(
        [
            make.usage(c, f"feature:f{i % 7}", 1, now - timedelta(days=1))
            for i, c in enumerate(customers)
        ]
    )
    out.append(
        [
            make.milestone(c, partner[i], "kickoff", now - timedelta(days=20))
            if i % 3
            else make.payment_failed(c, f"inv-{c}", now - timedelta(days=1))
            for i, c in enumerate(customers)
        ]
    )
    out.append([make.nps(c, i % 11, now - timedelta(hours=5)) for i, c in enumerate(customers)])
    return out


def settings_for(base: HealthSettings, run: str, replica: str) -> HealthSettings:
    """The test's settings on a schema, topics and group of `run`'s own, as `replica`."""
    return base.model_copy(
        update={
            "database_schema": f"t_{run}",
            "health_topic_prefix": f"t{run}.",
            "health_consumer_group": f"health-{run}",
            "topic_partitions": PARTITIONS,
            "consumer_instance": replica,
        }
    )


@contextlib.asynccontextmanager
async def workers(
    base: HealthSettings, start_on: Any, make: Make, run: str, replicas: int
) -> AsyncIterator[list[Any]]:
    """`replicas` in-process workers in one group (one schema, one ManualClock), all joined."""
    clock = ManualClock(make.clock.now())
    async with contextlib.AsyncExitStack() as stack:
        running = []
        for r in range(replicas):
            settings = settings_for(base, run, f"w{r}-{run}")
            running.append(await stack.enter_async_context(start_on(settings, clock)))

        async def spread() -> bool:
            owned = [w.app.state.consumer.assignment() for w in running]
            every = set().union(*owned)
            return all(owned) and sum(map(len, owned)) == len(every) == 3 * PARTITIONS

        await wait_until(spread, 60, "every partition owned, each worker some, none twice")
        yield running


async def state_after(
    base: HealthSettings, start_on: Any, make: Make, stream: list[list[Envelope]], replicas: int
) -> tuple[list[Any], list[Any]]:
    """Apply every wave with `replicas` workers; return the customer rows and history points.
    Both runs get the same events (ids included: the state keeps the ids of the newest facts
    to tell a second copy of an event from a new one)."""
    run = uuid.uuid4().hex[:10]
    try:
        async with workers(base, start_on, make, run, replicas) as running:
            first, applied = running[0], 0
            for wave in stream:
                await first.produce(wave)
                applied += len(wave)
                await first.settled(applied)
            assert await first.processed() == applied
            customers = await first.rows("SELECT * FROM customers ORDER BY customer_id")
            history = await first.rows(
                "SELECT customer_id, at, score, computed_score, band, step, scorecard_version,"
                " cause, override FROM score_history ORDER BY customer_id, id"
            )
            return customers, history
    finally:
        await drop_schemas(base.database_url or "", f"t_{run}")


async def health_changed(bootstrap: str, tag: str, expect: int) -> list[Any]:
    keys = {f"so-{tag}-{c}".encode() for c in range(CUSTOMERS)}
    records = await read_topic(bootstrap, HEALTH_TOPIC, expect=expect, keys=keys)
    return records


async def test_two_workers_reach_exactly_the_state_of_one(
    health_settings: HealthSettings, start_on: Any, make: Make
) -> None:
    tag, bootstrap = uuid.uuid4().hex[:8], health_settings.kafka_bootstrap_servers or ""
    await ensure_topics(bootstrap, with_dead_letters([HEALTH_TOPIC]), partitions=PARTITIONS)

    stream = waves(make, tag)
    one_customers, one_history = await state_after(health_settings, start_on, make, stream, 1)
    versions = sum(row.version for row in one_customers)
    by_one = await health_changed(bootstrap, tag, versions)
    seen = {(r.partition, r.offset) for r in by_one}

    two_customers, two_history = await state_after(health_settings, start_on, make, stream, 2)
    everything = await health_changed(bootstrap, tag, 2 * versions)
    by_two = [r for r in everything if (r.partition, r.offset) not in seen]

    assert len(one_customers) == CUSTOMERS
    assert [tuple(r) for r in two_customers] == [tuple(r) for r in one_customers]
    assert [tuple(r) for r in two_history] == [tuple(r) for r in one_history]
    assert len(one_history) >= CUSTOMERS

    def contents(records: list[Any]) -> dict[str, set[bytes]]:
        out: dict[str, set[bytes]] = defaultdict(set)
        for record in records:
            out[parse_event(record.value).id].add(record.value)
        return out

    one, two = contents(by_one), contents(by_two)
    assert len(one) == versions
    assert two == one
    assert all(len(payloads) == 1 for payloads in two.values())


# ---------------------------------------------------------------------- killed mid-stream

EVENTS = 3000


def usage_stream(customers: list[str], make: Make) -> list[Envelope]:
    now = make.clock.now()
    return [
        make.usage(
            customers[i % len(customers)],
            "active_users" if i % 3 else f"feature:f{i % 17}",
            1 + i % 23,
            now - timedelta(days=1 + i % 60),
        )
        for i in range(EVENTS)
    ]


def spawn(settings: HealthSettings, replica: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "FOURFOLD_DATABASE_URL": settings.database_url or "",
        "FOURFOLD_DATABASE_SCHEMA": settings.database_schema,
        "FOURFOLD_AUTH_SECRET": settings.auth_secret.get_secret_value(),
        "FOURFOLD_TOPIC_PARTITIONS": str(PARTITIONS),
        "FOURFOLD_HEALTH_TOPIC_PREFIX": settings.health_topic_prefix,
        "FOURFOLD_HEALTH_CONSUMER_GROUP": settings.health_consumer_group,
        "FOURFOLD_HEALTH_CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "FOURFOLD_HEALTH_CONSUMER_MAX_RECORDS": "10",
        "FOURFOLD_CONSUMER_INSTANCE": replica,
        "FOURFOLD_LOG_JSON": "false",
    }
    command = [sys.executable, "-m", "uvicorn", "fourfold.health.app:create_app", "--factory"]
    with log.open("ab") as output:
        return subprocess.Popen(
            [*command, "--port", "0"], stdout=output, stderr=subprocess.STDOUT, env=env
        )


async def applied(engine: AsyncEngine) -> int:
    """Records the consumer's transactions applied: its stored next offsets (offsets mode)."""
    try:
        async with engine.connect() as connection:
            total = await connection.scalar(text("SELECT sum(next_offset) FROM consumer_offsets"))
    except Exception:  # the schema does not exist until a process migrated it
        return 0
    return int(total or 0)


async def stopped(process: subprocess.Popen[bytes], how: signal.Signals) -> int:
    process.send_signal(how)
    return await asyncio.to_thread(process.wait, 30)


async def test_a_worker_killed_mid_stream_loses_and_doubles_nothing(
    health_settings: HealthSettings,
    make: Make,
    unique: str,
    fresh_schema: str,
    one_effect_per_event: Any,
) -> None:
    """Worker a is killed (SIGKILL) with both consuming and restarted at once under its name
    (it removes its dead predecessor from the group); then worker b gets SIGTERM mid-stream
    and leaves; a finishes. Every event folds once, every version is published once."""
    settings = settings_for(health_settings, unique, "unused").model_copy(
        update={"database_schema": fresh_schema}
    )
    kafka_bootstrap, database_url = settings.kafka_bootstrap_servers or "", settings.database_url
    customers = [f"sk-{unique}-{c}" for c in range(24)]
    events = usage_stream(customers, make)
    topic = settings.health_topic_prefix + "product.usage"
    await ensure_topics(kafka_bootstrap, [topic], partitions=PARTITIONS)
    await produce_raw(kafka_bootstrap, topic, [(e.key.encode(), e.to_json_bytes()) for e in events])
    engine = create_engine(database_url or "", schema=settings.database_schema)
    log = Path(tempfile.gettempdir()) / f"health-scale-{unique}.log"
    group = settings.health_consumer_group
    a, b = f"a-{unique}", f"b-{unique}"

    async def consuming_together(at_least: int) -> bool:
        return (
            len(await group_members(kafka_bootstrap, group)) == 2
            and await applied(engine) >= at_least
        )

    first_a, worker_b = spawn(settings, a, log), spawn(settings, b, log)
    second_a = None
    try:
        await wait_until(lambda: consuming_together(100), 90, "both workers consuming")
        assert await stopped(first_a, signal.SIGKILL) == -signal.SIGKILL
        killed_at = await applied(engine)
        assert killed_at < EVENTS, f"killed mid-stream; see {log}"
        second_a = spawn(settings, a, log)

        await wait_until(lambda: consuming_together(killed_at + 100), 90, "a back beside b")
        left_at = await applied(engine)
        assert await stopped(worker_b, signal.SIGTERM) in (0, -signal.SIGTERM), log
        assert left_at < EVENTS, f"b stopped mid-stream; see {log}"

        async def all_applied() -> bool:
            return await applied(engine) >= EVENTS

        await wait_until(all_applied, 120, f"every event applied; see {log}")

        async def outbox_drained() -> bool:
            async with engine.connect() as connection:
                return not await connection.scalar(text("SELECT count(*) FROM outbox"))

        await wait_until(outbox_drained, 30, "outbox drained")
    finally:
        for process in (first_a, worker_b, second_a):
            if process is not None and process.poll() is None:
                await stopped(process, signal.SIGTERM)
    assert "removed this replica's predecessor from its group" in log.read_text(), log

    await one_effect_per_event(engine, kafka_bootstrap, events, customers)
    await engine.dispose()
