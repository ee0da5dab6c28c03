"""The consuming runner's small parts without I/O: wakers after a commit, readiness answers
from the task table. The runner itself runs in every consuming service's integration tests."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from fourfold.service.consuming import Wakers, readiness


def test_wakers_wake_every_added_waker_in_order_on_each_call() -> None:
    woken: list[str] = []
    wake = Wakers(lambda: woken.append("relay"))
    wake()
    wake.add(lambda: woken.append("worker"))
    wake()
    assert woken == ["relay", "relay", "worker"]


async def test_readiness_starts_with_one_check_then_names_the_tasks_that_ended() -> None:
    app = FastAPI()
    [starting] = readiness(app)
    assert await starting() is not None

    async def forever() -> None:
        await asyncio.Event().wait()

    async def ends() -> None:
        return None

    tasks = {
        "consumer": asyncio.create_task(forever()),
        "scheduler": asyncio.create_task(ends()),
        "outbox relay": asyncio.create_task(ends()),
    }
    await asyncio.sleep(0)
    app.state.engine, app.state.tasks = object(), tasks
    stopped_check = readiness(app)[0]
    try:
        reason = await stopped_check()
        assert reason is not None
        assert "scheduler, outbox relay" in reason
        assert "consumer" not in reason
        tasks["consumer"].cancel()
        await asyncio.gather(tasks["consumer"], return_exceptions=True)
        assert "consumer, scheduler, outbox relay" in (await stopped_check() or "")
    finally:
        tasks["consumer"].cancel()


async def test_readiness_waits_for_the_consumer_to_join_its_group() -> None:
    """Not ready until the group's first assignment landed (`joined`), then ready for good."""
    app = FastAPI()

    class Joining:
        joined = asyncio.Event()

    app.state.engine, app.state.tasks, app.state.consumer = object(), {}, Joining()
    joining_check = readiness(app)[1]
    assert await joining_check() == "consumer joining its group"
    Joining.joined.set()
    assert await joining_check() is None


async def test_an_api_process_is_ready_on_the_database_alone() -> None:
    """The `api` role runs no consumer: /readyz asks the database only (no group, no broker)."""
    app = FastAPI()
    app.state.engine, app.state.role = object(), "api"
    [database_check] = readiness(app)
    reason = await database_check()  # `object()` is no engine: the check says so, not "joining"
    assert reason is not None
    assert reason.startswith("database unreachable")
