"""A consumer killed without leaving its group, and the replica that comes back under its name.

The killed member stays in the group until its session expires; `remove_predecessors` (run
by `BatchConsumer.start`) removes it by name at once, leaves members of other names alone,
and the restarted consumer finishes the stream with one effect per event.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.kafka.membership import carries_name, remove_predecessors
from fourfold.testing.kafka import group_members, produce_raw

from .test_batch_consumer import (  # type: ignore[import-not-found]
    as_record,
    effect_counts,
    finish_and_stop,
    spawn_consumer,
    topic,  # noqa: F401 - the fixture, used by name
    usage_event,
    wait_for_effects,
)

pytestmark = pytest.mark.integration


async def test_a_killed_member_is_removed_by_its_name_and_its_successor_finishes(
    kafka_bootstrap: str,
    database_url: str,
    fresh_schema: str,
    engine: AsyncEngine,
    topic: str,  # noqa: F811 - the imported fixture
    unique: str,
) -> None:
    events = [usage_event(f"m{i}", f"c{i % 5}") for i in range(300)]
    await produce_raw(kafka_bootstrap, topic, [as_record(e) for e in events])
    group, name = f"g-{unique}", f"replica-{unique}"
    args = (kafka_bootstrap, database_url, fresh_schema, topic, group, "--instance", name)

    first = spawn_consumer(*args)
    await wait_for_effects(engine, 20)
    [member] = await group_members(kafka_bootstrap, group)
    assert carries_name(member, name)
    assert await remove_predecessors(kafka_bootstrap, group, f"other-{unique}") == []
    first.send_signal(signal.SIGKILL)
    assert await asyncio.to_thread(first.wait, 30) == -signal.SIGKILL
    assert await group_members(kafka_bootstrap, group) == [member], "dead, still a member"
    assert len(await effect_counts(engine)) < len(events), "killed mid-stream"

    assert await remove_predecessors(kafka_bootstrap, group, name) == [member]
    assert await group_members(kafka_bootstrap, group) == []

    restarted = spawn_consumer(*args)
    await finish_and_stop(restarted, engine, len(events))
    assert await effect_counts(engine) == {e.id: 1 for e in events}


async def test_an_unreachable_broker_leaves_the_group_as_it_is(unique: str) -> None:
    """Best effort: the start goes on (the dead member's session expires as before)."""
    assert await remove_predecessors("127.0.0.1:9", f"g-{unique}", "replica") == []
