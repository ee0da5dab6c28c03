"""The delivery worker: claim due deliveries, send them concurrently, record each attempt.

Claiming is one short transaction (`FOR UPDATE SKIP LOCKED`): due rows move to `sending`
with a lease, their attempt counted, so several replicas never take the same row. Sending
happens outside any transaction, bounded per process (`concurrency`) and per channel
(`per_endpoint`): a channel at its limit is left out of the next claim, so a slow endpoint
holds its own slots and nobody else's; each request has its own timeout. A worker that
dies mid-send leaves its rows `sending`; once the lease ends another worker takes them
and sends again with the same `webhook-id`, which receivers dedupe by.

After a send: 2xx → delivered; 410 → dead and the channel disabled; anything else → the
next attempt per the retry schedule (Retry-After honoured), or dead after the last.

A claim also cancels, instead of sending, the rows it finds for a disabled channel or for a
nudge that was snoozed or resolved, or has moved on to a later delivery round, since the
row was written: the snooze or resolve cancels the nudge's pending rows itself, and this
catches the one whose attempt was in flight then and failed (it came back `pending`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fourfold.clock import Clock
from fourfold.notifications import channels as channel_store
from fourfold.notifications.delivery.senders import Job, Outcome, Sender
from fourfold.notifications.domain.config import Retry
from fourfold.notifications.domain.nudges import Status
from fourfold.notifications.domain.schedule import next_attempt_at, parse_retry_after
from fourfold.notifications.metrics import (
    DEAD_LETTERS,
    DEAD_LETTERS_PENDING,
    DELIVERIES,
    DELIVERY_LATENCY,
)
from fourfold.notifications.models import channels, deliveries, delivery_attempts, nudges
from fourfold.notifications.repository import (
    CANCELLED_RESOLVED,
    CANCELLED_SNOOZED,
    CANCELLED_SUPERSEDED,
)
from fourfold.service.stopping import pause_unless_stopped

log = logging.getLogger(__name__)

GAUGE_REFRESH_S = 10.0


def _not_to_send(row: Any) -> str | None:
    """Why a claimed row is cancelled instead of sent (None: send it)."""
    if not row.enabled:
        return "channel disabled"
    if row.nudge_status == Status.SNOOZED.value:
        return CANCELLED_SNOOZED
    if row.nudge_status == Status.RESOLVED.value:
        return CANCELLED_RESOLVED
    later = row.current_round is not None and row.nudge_round is not None
    if later and row.nudge_round < row.current_round:
        return CANCELLED_SUPERSEDED
    return None


class DeliveryWorker:
    """Sends due deliveries until stopped; wake it with `notify()` after a commit."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        clock: Clock,
        retry: Retry,
        concurrency: int = 32,
        per_endpoint: int = 4,
        lease_s: float = 120.0,
        poll_s: float = 1.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._sessions = sessions
        self._senders = senders
        self._clock = clock
        self._retry = retry
        self._concurrency = concurrency
        self._per_endpoint = per_endpoint
        self._lease = timedelta(seconds=lease_s)
        self._poll_s = poll_s
        self._rand = rand
        self._in_flight: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._gauge_at = float("-inf")
        self._results: list[tuple[Job, Outcome, datetime]] = []
        self._results_ready = asyncio.Event()

    def notify(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def claim(self) -> list[Job]:
        """Take the due deliveries that fit the free slots, in one transaction."""
        free = self._concurrency - sum(self._in_flight.values())
        if free <= 0:
            return []
        busy = [c for c, n in self._in_flight.items() if n >= self._per_endpoint]
        now = self._clock.now()
        d = deliveries.c
        query = (
            select(
                d.delivery_id,
                d.partner_id,
                d.channel_id,
                d.attempts,
                d.payload,
                channels.c.kind,
                channels.c.target,
                channels.c.secrets,
                channels.c.enabled,
                d.nudge_round,
                nudges.c.status.label("nudge_status"),
                nudges.c.delivery_round.label("current_round"),
            )
            .join(channels, channels.c.channel_id == d.channel_id)
            .outerjoin(nudges, nudges.c.nudge_id == d.nudge_id)  # none for a digest
            .where(
                or_(
                    (d.status == "pending") & (d.next_attempt_at <= now),
                    (d.status == "sending") & (d.lease_until <= now),
                )
            )
            .order_by(d.next_attempt_at)
            .limit(free * 2)
            .with_for_update(of=deliveries, skip_locked=True)
        )
        if busy:
            query = query.where(d.channel_id.not_in(busy))
        jobs: list[Job] = []
        async with self._sessions() as session, session.begin():
            rows = (await session.execute(query)).all()
            taken: Counter[str] = Counter(self._in_flight)
            cancelled: dict[str, list[str]] = {}
            for row in rows:
                reason = _not_to_send(row)
                if reason is not None:
                    cancelled.setdefault(reason, []).append(row.delivery_id)
                    continue
                if len(jobs) >= free or taken[row.channel_id] >= self._per_endpoint:
                    continue  # left for the next claim, unlocked at commit
                taken[row.channel_id] += 1
                jobs.append(
                    Job(
                        delivery_id=row.delivery_id,
                        partner_id=row.partner_id,
                        channel_id=row.channel_id,
                        channel_kind=row.kind,
                        target=row.target,
                        secrets=row.secrets,
                        payload=row.payload,
                        attempt=row.attempts + 1,
                    )
                )
            for reason, ids in cancelled.items():
                await session.execute(
                    update(deliveries)
                    .where(d.delivery_id.in_(ids))
                    .values(status="cancelled", last_error=reason, lease_until=None)
                )
            for job in jobs:
                await session.execute(
                    update(deliveries)
                    .where(d.delivery_id == job.delivery_id)
                    .values(status="sending", attempts=job.attempt, lease_until=now + self._lease)
                )
        return jobs

    async def _deliver(self, job: Job) -> None:
        started = self._clock.now()
        try:
            outcome = await self._senders[job.channel_kind].send(job)
        except Exception as exc:  # a sender bug must not lose the delivery: count it failed
            log.exception("delivery sender failed", extra={"delivery_id": job.delivery_id})
            outcome = Outcome(None, f"{type(exc).__name__}: {exc}"[:2000], None, 0.0)
        self._results.append((job, outcome, started))
        self._results_ready.set()

    async def _recording(self) -> None:
        """Record finished attempts in batches, one transaction per batch: a commit per
        delivery would cost more than the send. A crash loses at most the batch in hand,
        whose deliveries stay 'sending' and are sent again after the lease (same id)."""
        while not (self._stopping.is_set() and not self._tasks and not self._results):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._results_ready.wait(), self._poll_s)
            self._results_ready.clear()
            batch, self._results = self._results, []
            if not batch:
                continue
            try:
                await self._record_all(batch)
            except Exception:
                log.exception("could not record %d delivery attempts", len(batch))
            self._wake.set()

    async def _record_all(self, batch: list[tuple[Job, Outcome, datetime]]) -> None:
        async with self._sessions() as session, session.begin():
            for job, outcome, started in batch:
                await self._record(session, job, outcome, started)

    async def _record(
        self, session: AsyncSession, job: Job, outcome: Outcome, started: datetime
    ) -> None:
        now = self._clock.now()
        kind = job.channel_kind
        DELIVERY_LATENCY.labels(kind).observe(outcome.duration_s)
        values: dict[str, Any] = {"last_status_code": outcome.status_code, "lease_until": None}
        if outcome.ok:
            result, values = (
                "delivered",
                values | {"status": "delivered", "delivered_at": now, "last_error": None},
            )
        elif outcome.status_code == 410:
            result, values = (
                "gone",
                values
                | {"status": "dead", "dead_at": now, "last_error": "410 Gone: channel disabled"},
            )
        else:
            retry_after = parse_retry_after(outcome.retry_after, now)
            at = next_attempt_at(
                self._retry,
                attempts_made=job.attempt,
                now=now,
                random=self._rand(),
                retry_after_s=retry_after,
            )
            error = outcome.error or f"status {outcome.status_code}"
            if at is None:
                result, values = (
                    "dead",
                    values | {"status": "dead", "dead_at": now, "last_error": error},
                )
            else:
                result, values = (
                    "failed",
                    values | {"status": "pending", "next_attempt_at": at, "last_error": error},
                )
        changed = await session.execute(
            update(deliveries)
            .where(
                deliveries.c.delivery_id == job.delivery_id,
                deliveries.c.status == "sending",
                deliveries.c.attempts == job.attempt,
            )
            .values(**values)
            .returning(deliveries.c.delivery_id)
        )
        await session.execute(
            insert(delivery_attempts).values(
                delivery_id=job.delivery_id,
                attempt=job.attempt,
                started_at=started,
                duration_ms=int(outcome.duration_s * 1000),
                status_code=outcome.status_code,
                outcome=result,
                error=None if outcome.ok else (outcome.error or "")[:2000],
            )
        )
        if changed.first() is None:
            return  # another worker took it over after the lease: its result stands
        if result == "gone":
            await channel_store.disable(
                session, job.channel_id, reason="410 Gone from the endpoint", now=now
            )
        DELIVERIES.labels(kind, result).inc()
        if result in ("dead", "gone"):
            DEAD_LETTERS.labels(kind).inc()
            log.warning(
                "delivery dead-lettered",
                extra={
                    "delivery_id": job.delivery_id,
                    "channel_id": job.channel_id,
                    "error": values["last_error"],
                },
            )

    async def _refresh_dead_letters(self) -> None:
        """The dead-letter gauge from the table (every replica sees the same), when idle."""
        clock = asyncio.get_running_loop().time()
        if clock - self._gauge_at < GAUGE_REFRESH_S:
            return
        self._gauge_at = clock
        try:
            async with self._sessions() as session:
                query = (
                    select(func.count())
                    .select_from(deliveries)
                    .where(deliveries.c.status == "dead")
                )
                DEAD_LETTERS_PENDING.set(int((await session.execute(query)).scalar_one()))
        except Exception:
            log.warning("could not count dead letters", exc_info=True)

    def _start(self, job: Job) -> None:
        self._in_flight[job.channel_id] += 1
        task = asyncio.create_task(self._deliver(job))
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._in_flight[job.channel_id] -= 1
            if self._in_flight[job.channel_id] <= 0:
                del self._in_flight[job.channel_id]
            self._wake.set()  # a slot is free

        task.add_done_callback(done)

    async def run(self) -> None:
        """Claim and send until stopped; a failing claim is logged and tried again."""
        recording = asyncio.create_task(self._recording())
        batch = max(1, self._concurrency // 4)
        while not self._stopping.is_set():
            self._wake.clear()
            free = self._concurrency - sum(self._in_flight.values())
            if free < batch and self._in_flight:  # claim in batches, not one row per slot
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_s)
                continue
            try:
                jobs = await self.claim()
            except Exception:
                log.exception("claiming deliveries failed; retrying")
                await pause_unless_stopped(self._stopping, max(self._poll_s, 1.0))
                continue
            for job in jobs:
                self._start(job)
            if not jobs:
                await self._refresh_dead_letters()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_s)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._results_ready.set()
        await recording
