"""The scheduled-pass shell: passes at the clock's now, a failed pass retried, stop, wake."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Column, Integer, MetaData, Table

from fourfold.clock import ManualClock
from fourfold.service.scheduled import ScheduledPass

START = datetime(2026, 3, 1, tzinfo=UTC)
OUTBOX = Table("outbox", MetaData(), Column("id", Integer, primary_key=True))


class Counting(ScheduledPass):
    failure = "counting pass failed"

    def __init__(self, *, fail_first: int, **shell: Any) -> None:
        super().__init__(**shell)
        self.seen: list[datetime] = []
        self._fail_first = fail_first

    async def run_pass(self, now: datetime) -> int:
        self.seen.append(now)
        if len(self.seen) <= self._fail_first:
            raise RuntimeError("database away")
        if len(self.seen) >= 3:
            self.stop()
        self.committed(staged=True)
        return 1


def _pass(clock: ManualClock, fail_first: int, wakes: list[int]) -> Counting:
    return Counting(
        fail_first=fail_first,
        sessions=cast(Any, None),
        outbox=OUTBOX,
        clock=clock,
        interval_s=0.0,
        on_committed=lambda: wakes.append(1),
    )


async def test_a_failed_pass_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, wakes = ManualClock(START), []
    scheduled = _pass(clock, fail_first=1, wakes=wakes)
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(scheduled.run(), 5)
    assert scheduled.seen == [START, START, START]
    assert [r.getMessage() for r in caplog.records] == ["counting pass failed"]
    assert len(wakes) == 2  # the failed pass committed nothing, so woke nothing


async def test_stop_before_run_means_no_pass() -> None:
    scheduled = _pass(ManualClock(START), fail_first=0, wakes=[])
    scheduled.stop()
    await asyncio.wait_for(scheduled.run(), 5)
    assert scheduled.seen == []
    assert scheduled.stopping
