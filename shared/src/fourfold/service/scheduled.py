"""Work that time makes due: one pass at the clock's `now`, every interval, until stopped.

Health-scoring's recompute and notifications' evaluation have the same shape: a pass walks
the rows due at `now` in chunks (one transaction each), stages events in the outbox, and
wakes the relay after a commit that staged any. `ScheduledPass` owns that shell, so a
service writes only `run_pass`. Tests call `run_pass(now)` directly with a chosen `now`.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import NotRequired, TypedDict, Unpack

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fourfold.clock import Clock
from fourfold.service.stopping import every_interval_until_stopped


class PassShell(TypedDict):
    """What every scheduled pass is built with; subclasses take it as `**shell`."""

    sessions: async_sessionmaker[AsyncSession]
    outbox: Table
    clock: Clock
    interval_s: float
    batch_size: NotRequired[int]
    on_committed: NotRequired[Callable[[], None] | None]


class ScheduledPass(abc.ABC):
    """A background writer: `run()` loops `run_pass(clock.now())`; `stop()` ends it after
    the chunk in hand. A failed pass is logged and retried at the next interval."""

    failure: str = "scheduled pass failed; retrying next interval"
    default_batch_size: int = 500

    def __init__(self, **shell: Unpack[PassShell]) -> None:
        self._sessions = shell["sessions"]
        self._outbox = shell["outbox"]
        self._clock = shell["clock"]
        self._interval_s = shell["interval_s"]
        self._batch_size = shell.get("batch_size", self.default_batch_size)
        self._on_committed = shell.get("on_committed")
        self._stopping = asyncio.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()

    @abc.abstractmethod
    async def run_pass(self, now: datetime) -> int:
        """Do everything due by `now`; return how many rows the pass looked at."""

    def committed(self, staged: bool) -> None:
        """Call after each chunk's commit: wakes the relay when the chunk staged events."""
        if staged and self._on_committed is not None:
            self._on_committed()

    async def run(self) -> None:
        await every_interval_until_stopped(
            self._stopping,
            self._interval_s,
            lambda: self.run_pass(self._clock.now()),
            log=logging.getLogger(type(self).__module__),
            failure=self.failure,
        )
