"""Keep the inbox to the window in which an event can still come back.

The inbox holds one row per applied event so that a replay is a no-op. A replay comes from
the broker (within the topics' retention) or from a producer retrying a send (seconds to
minutes); past that window the row protects nothing and only grows the table and its index.
`InboxPruner` deletes rows older than the retention, a chunk per transaction so it never
holds many locks or a long transaction beside the consumer. An event replayed after its
row is gone would be applied again, so `retention_for` never prunes inside the broker's
replay window (`fourfold.kafka.replay_window`): it raises a shorter configured retention
above it, and turns pruning off when a consumed topic keeps its records forever.

Age is measured on the database's clock, the one that stamped `processed_at`; the service's
injectable clock (which tests move freely) would prune rows by a time they were never
stamped with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta

from aiokafka.errors import KafkaError
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fourfold.kafka.replay_window import ReplayWindow, describe_replay_windows
from fourfold.metrics import INBOX_PRUNED
from fourfold.service.stopping import every_interval_until_stopped

log = logging.getLogger(__name__)

REPLAY_MARGIN = timedelta(days=1)
"""Kept beyond the broker's replay window (its retention check runs every few minutes)."""


def safe_retention(configured: timedelta, windows: Sequence[ReplayWindow]) -> timedelta | None:
    """The retention to prune with: `configured`, or longer when a topic may still replay
    older records; None (do not prune) when a topic keeps its records forever."""
    if any(window.keeps_for is None for window in windows):
        return None
    longest = max((w.keeps_for for w in windows if w.keeps_for is not None), default=None)
    if longest is None or configured > longest + REPLAY_MARGIN:
        return configured
    return longest + REPLAY_MARGIN


async def retention_for(
    configured: timedelta, bootstrap_servers: str, topics: Iterable[str]
) -> timedelta | None:
    """`safe_retention` against what the broker says of `topics`, with a log line when it
    differs from `configured`. A broker that describes no retention (the embedded one) or
    cannot be asked leaves `configured` in force."""
    try:
        windows = await describe_replay_windows(bootstrap_servers, topics)
    except KafkaError as exc:
        log.warning(
            "topic retention unknown; keeping the configured inbox retention",
            extra={"error": repr(exc)},
        )
        windows = []
    retention = safe_retention(configured, windows)
    if retention is None:
        forever = [w.topic for w in windows if w.keeps_for is None]
        log.warning(
            "a consumed topic keeps records forever: inbox not pruned", extra={"topics": forever}
        )
    elif retention != configured:
        log.warning(
            "inbox retention raised above the topics' replay window",
            extra={
                "configured_days": configured / timedelta(days=1),
                "retention_days": retention / timedelta(days=1),
            },
        )
    return retention


class InboxPruner:
    """Deletes inbox rows older than `retention` every `interval_s` until `stop()`."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        inbox: Table,
        retention: timedelta,
        interval_s: float,
        service: str,
        chunk_size: int = 10_000,
    ) -> None:
        if retention <= timedelta(0):
            raise ValueError("inbox retention must be positive")
        self._sessions = sessions
        self._retention = retention
        self._interval_s = interval_s
        self._service = service
        self._chunk_size = chunk_size
        self._stopping = asyncio.Event()
        # ctid: the physical row address, so a chunk is deleted without re-matching the
        # three-column key; the index on processed_at finds the old rows.
        self._delete_chunk = text(
            f"DELETE FROM {inbox.name} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {inbox.name} "
            "WHERE processed_at < now() - CAST(:retention AS interval) LIMIT :chunk))"
        )

    def stop(self) -> None:
        self._stopping.set()

    async def prune(self) -> int:
        """Delete every row processed longer than the retention ago; return how many."""
        total = 0
        while not self._stopping.is_set():
            async with self._sessions() as session, session.begin():
                result = await session.execute(
                    self._delete_chunk, {"retention": self._retention, "chunk": self._chunk_size}
                )
            deleted = int(result.rowcount)  # type: ignore[attr-defined]
            total += deleted
            INBOX_PRUNED.labels(self._service).inc(deleted)
            if deleted < self._chunk_size:
                break
        if total:
            log.info(
                "inbox pruned",
                extra={"rows": total, "retention_days": self._retention / timedelta(days=1)},
            )
        return total

    async def run(self) -> None:
        """Prune, then wait `interval_s`, until stopped; a failure is logged and retried."""
        await every_interval_until_stopped(
            self._stopping,
            self._interval_s,
            self.prune,
            log=log,
            failure="inbox pruning failed; retrying next interval",
        )
