"""The batch consumer every service runs: at-least-once in, exactly-once in effect.

One poll → one database transaction holding the handler's state change, the inbox rows of
the events it applied, and the events it emitted (outbox). The offsets are committed only
after that transaction. A crash anywhere replays the poll; the inbox makes the replay a no-op.

A record that does not parse goes to `<topic>.dlq` at once. When the handler fails, the
batch is retried; if it keeps failing, the events are retried one by one so that the one
poison event goes to the DLQ and the rest of the partition moves on.

Offsets mode (`offsets=`, opt-in): for handlers whose effects are idempotent by key (a
ledger unique per event and rule, a fold that sets rather than adds), the batch's
transaction stores each partition's next offset instead of one inbox row per event, and
the consumer seeks to it when a partition is assigned. A record delivered twice (a crash
after the commit, a rebalance) is not fetched again past that offset; an event id that
reaches the broker twice, at two offsets, is handed to the handler twice, and the
handler's keys make the second a no-op. The stored offset never passes a record that was
neither applied nor dead-lettered, so a crash before the dead letters are acknowledged
replays from it.

Group membership (`fourfold.kafka.membership`): the consumer's client id is the replica's
instance name; `start()` removes the group's members of that name (a killed predecessor) and
subscribes without waiting for the assignment (`joined` is set when it lands); heartbeats go
every `heartbeat_interval_ms` (500 ms), so a rebalance is heard of within half a second; on
`stop()` the batch in hand is committed and the consumer leaves the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from fourfold.clock import Clock, SystemClock
from fourfold.events.envelope import Envelope
from fourfold.events.problems import field_problems
from fourfold.kafka.cloudevents_binding import parse_record
from fourfold.kafka.dead_letters import ConsumedRecord, DeadLetter
from fourfold.kafka.membership import instance_name, remove_predecessors
from fourfold.kafka.outbox import Staged, stage
from fourfold.kafka.producer import EventProducer
from fourfold.kafka.transient import InfrastructureUnavailable, is_transient
from fourfold.logs import log_context
from fourfold.metrics import (
    BATCH_DURATION,
    BATCH_SIZE,
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_FAILED,
)
from fourfold.service.stopping import pause_unless_stopped

log = logging.getLogger(__name__)

Record = ConsumedRecord


@dataclass
class Batch:
    """What a handler gets: fresh events in partition order, the open session, an emitter."""

    session: AsyncSession
    events: Sequence[Envelope]
    clock: Clock
    emitted: list[Staged] = field(default_factory=list)

    def emit(self, event: Staged) -> None:
        """Publish `event` if, and only if, this batch commits."""
        self.emitted.append(event)


Handler = Callable[[Batch], Awaitable[None]]


class _Parsed(NamedTuple):  # a tuple: built per record, cheaper than a frozen dataclass
    record: Record
    event: Envelope


class BatchConsumer:
    """Consumes `topics` as `group_id` and applies `handler` with the delivery rules."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        topics: Sequence[str],
        sessions: async_sessionmaker[AsyncSession],
        inbox: Table,
        outbox: Table,
        producer: EventProducer,
        handler: Handler,
        service: str,
        clock: Clock | None = None,
        max_records: int = 500,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.05,
        poll_timeout_ms: int = 200,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 500,
        instance: str | None = None,
        remove_predecessor: bool = True,
        max_pause_s: float = 5.0,
        on_committed: Callable[[], None] | None = None,
        offsets: Table | None = None,
    ) -> None:
        if heartbeat_interval_ms * 3 > session_timeout_ms:
            raise ValueError("the heartbeat interval must be at most a third of the session")
        self._instance = instance_name(instance, service)
        self._bootstrap_servers = bootstrap_servers
        self._remove_predecessor = remove_predecessor
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            client_id=self._instance,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_records,
            fetch_max_bytes=16 * 1024 * 1024,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
        )
        self._group_id = group_id
        self._sessions = sessions
        self._inbox = inbox
        self._outbox = outbox
        self._producer = producer
        self._handler = handler
        self._service = service
        self._clock = clock or SystemClock()
        self._max_records = max_records
        self._max_attempts = max_attempts
        self._retry_backoff_s = retry_backoff_s
        self._max_pause_s = max_pause_s
        self._poll_timeout_ms = poll_timeout_ms
        self._on_committed = on_committed
        self._stopping = asyncio.Event()
        self._offsets = offsets
        self._topics = sorted(topics)
        self._unsettled: dict[TopicPartition, int] = {}  # first offset neither applied nor dead
        self._floors: dict[TopicPartition, int] = {}  # offsets mode: stored next offsets
        bind = sessions.kw.get("bind")
        self._engine = bind if isinstance(bind, AsyncEngine) else None
        self._held: AsyncConnection | None = None  # run(): one connection across polls
        self._running = False
        self.joined = asyncio.Event()
        """Set once the group gave this consumer its first assignment (empty or not)."""
        # Lists travel as one JSON array (orjson text) each, unpacked by PostgreSQL, not as
        # array parameters, which asyncpg encodes element by element (fourfold.db.bulk).
        if offsets is not None:
            self._store_offsets = text(
                f"INSERT INTO {offsets.name} AS o (consumer, topic, partition, next_offset)"
                " SELECT :consumer, t, CAST(p AS integer), CAST(n AS bigint)"
                " FROM ROWS FROM (json_array_elements_text(CAST(:topics AS json)),"
                " json_array_elements_text(CAST(:partitions AS json)),"
                " json_array_elements_text(CAST(:nexts AS json))) AS x(t, p, n)"
                " ON CONFLICT (consumer, topic, partition) DO UPDATE"
                " SET next_offset = greatest(o.next_offset, excluded.next_offset),"
                " updated_at = now()"
            )
            self._stored_offsets = text(
                f"SELECT topic, partition, next_offset FROM {offsets.name}"
                " WHERE consumer = :consumer AND topic = ANY(ARRAY("
                "SELECT json_array_elements_text(CAST(:topics AS json))))"
            )
        # One row back, not one per event: how many rows were new and, only when some were
        # not (a duplicate or a replay), which ones.
        self._insert_inbox = text(
            f"WITH fresh AS (INSERT INTO {inbox.name} (consumer, event_source, event_id) "
            "SELECT :consumer, s, i FROM ROWS FROM (json_array_elements_text(CAST(:sources AS"
            " json)), json_array_elements_text(CAST(:ids AS json))) AS t(s, i) "
            "ON CONFLICT DO NOTHING RETURNING event_source, event_id) "
            "SELECT count(*) AS fresh, CASE WHEN count(*) < :total THEN array_agg(event_source)"
            " END AS sources, CASE WHEN count(*) < :total THEN array_agg(event_id) END AS ids"
            " FROM fresh"
        )

    async def start(self) -> None:
        """Connect, remove this replica's killed predecessor from the group, then subscribe.

        Returns before the group assigns partitions (`joined` tells when it has), so the
        service answers /healthz and publishes its outbox meanwhile.
        """
        if self._offsets is not None:
            await self._load_floors()
        await self._consumer.start()
        if self._remove_predecessor:
            await remove_predecessors(self._bootstrap_servers, self._group_id, self._instance)
        self._consumer.subscribe(topics=self._topics, listener=_Assignments(self))

    def assignment(self) -> set[TopicPartition]:
        """The partitions the group gives this consumer now."""
        return set(self._consumer.assignment())

    async def _load_floors(self) -> None:
        """Offsets mode: every stored next offset of this consumer, before the first fetch
        (aiokafka may fetch a newly assigned partition before the listener's seek lands)."""
        try:
            async with self._sessions() as session:
                rows = await session.execute(
                    self._stored_offsets,
                    {"consumer": self._group_id, "topics": _json(self._topics)},
                )
                self._floors = {
                    TopicPartition(row.topic, row.partition): row.next_offset for row in rows
                }
        except Exception as exc:  # the handlers' keys still make a replay harmless
            log.warning("stored offsets not loaded", extra={"error": repr(exc)})

    def stop(self) -> None:
        """Finish the batch in hand, commit it, then leave the group (SIGTERM lands here)."""
        self._stopping.set()

    async def close(self) -> None:
        await self._consumer.stop()

    async def run(self) -> None:
        """Poll and handle until `stop()`; then close the consumer cleanly.

        When the database or the broker is away, the poll is not committed: the consumer
        seeks back to its first record and tries again after a growing pause.
        """
        pause = self._retry_backoff_s
        self._running = True
        try:
            await _first_of(self.joined, self._stopping)  # a stop before the join ends here
            while not self._stopping.is_set():
                try:
                    polled = await self._consumer.getmany(
                        timeout_ms=self._poll_timeout_ms, max_records=self._max_records
                    )
                except KafkaError as exc:  # the broker is away: keep trying, never die
                    log.warning("poll failed; retrying", extra={"error": repr(exc)})
                    await pause_unless_stopped(self._stopping, self._max_pause_s)
                    continue
                if not polled:
                    continue
                try:
                    await self.handle_poll(polled)
                    pause = self._retry_backoff_s
                except InfrastructureUnavailable as exc:
                    self._rewind(polled)
                    pause = min(self._max_pause_s, max(pause * 2, 0.1))
                    log.warning(
                        "dependency unavailable; poll will be retried",
                        extra={"error": str(exc.__cause__ or exc), "pause_s": pause},
                    )
                    await pause_unless_stopped(self._stopping, pause)
        finally:
            self._running = False
            await self._release_connection()
            await self.close()

    def _rewind(self, polled: dict[TopicPartition, list[Record]]) -> None:
        """Seek each partition back to the first record of the poll (nothing was committed)."""
        for tp, records in polled.items():
            if records and tp in self._consumer.assignment():
                self._consumer.seek(tp, records[0].offset)

    async def handle_poll(self, polled: dict[TopicPartition, list[Record]]) -> None:
        """Apply one poll's records, dead-letter what must be, then commit the offsets."""
        started = time.perf_counter()
        records: list[Record] = []
        for tp, partition in polled.items():
            floor = self._floors.get(tp, 0)  # offsets mode: what is below was applied before
            if partition and partition[0].offset >= floor:
                records.extend(partition)  # a partition's records come in offset order
            else:
                records.extend(record for record in partition if record.offset >= floor)
        dead = await self.apply_records(records)
        if dead:
            try:
                await self._producer.send_all([d.to_outgoing(service=self._service) for d in dead])
            except Exception as exc:
                # Applied events are in the inbox already: the replay skips them.
                raise InfrastructureUnavailable("dead letters not acknowledged") from exc
            for letter in dead:
                EVENTS_DEAD_LETTERED.labels(self._service, letter.record.topic, letter.reason).inc()
                log.warning(
                    "dead-lettered record",
                    extra={
                        "topic": letter.record.topic,
                        "partition": letter.record.partition,
                        "offset": letter.record.offset,
                        "reason": letter.reason,
                        "detail": letter.detail,
                        "event_id": letter.event_id,
                    },
                )
        await self._commit(polled)
        elapsed = time.perf_counter() - started
        owned = self._consumer.assignment()
        for tp, partition_records in polled.items():
            EVENTS_CONSUMED.labels(self._service, tp.topic).inc(len(partition_records))
            BATCH_SIZE.labels(self._service, tp.topic).observe(len(partition_records))
            BATCH_DURATION.labels(self._service, tp.topic).observe(elapsed)
            if tp not in owned:  # revoked during the batch: aiokafka asserts on its highwater
                continue
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                lag = max(0, highwater - (partition_records[-1].offset + 1))
                CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(lag)

    async def apply_records(self, records: Sequence[Record]) -> list[DeadLetter]:
        """Parse and apply `records` as one poll (inbox, handler, outbox, retries, the search for
        a poison event) and return what must be dead-lettered; nothing is published or
        committed to the broker here. Tests ask it whether a consumer can process a record."""
        parsed, dead = self._parse(records)
        self._unsettled = {}
        for letter in dead:
            tp = TopicPartition(letter.record.topic, letter.record.partition)
            self._unsettled.setdefault(tp, letter.record.offset)
        return dead + await self._apply(parsed)

    def _parse(self, records: Sequence[Record]) -> tuple[list[_Parsed], list[DeadLetter]]:
        parsed: list[_Parsed] = []
        dead: list[DeadLetter] = []
        for record in records:
            try:
                parsed.append(_Parsed(record, parse_record(record)))
            except ValidationError as exc:
                dead.append(DeadLetter.unparseable(record, field_problems(exc)))
            except ValueError as exc:
                dead.append(DeadLetter.unparseable(record, str(exc)))
        return parsed, dead

    async def _apply(self, parsed: list[_Parsed]) -> list[DeadLetter]:
        """Apply all in one transaction; on repeated failure, one by one to find the poison."""
        if not parsed:
            return []
        if await self._apply_with_retries(parsed) is None:
            return []
        dead: list[DeadLetter] = []
        for item in parsed:
            with log_context(event_id=item.event.id, event_type=item.event.type):
                error = await self._apply_with_retries([item])
            if error is not None:
                dead.append(DeadLetter(item.record, "handler_failed", error, item.event.id))
                tp = TopicPartition(item.record.topic, item.record.partition)
                self._unsettled.setdefault(tp, item.record.offset)
        return dead

    async def _apply_with_retries(self, items: list[_Parsed]) -> str | None:
        """Return None on success, or the last error's description after the last attempt.

        Raises InfrastructureUnavailable when the failure is the database's, not the event's.
        """
        last_error = "unknown"
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._apply_once(items)
                return None
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"[:2000]
                topic = items[0].record.topic
                EVENTS_FAILED.labels(self._service, topic, type(exc).__name__).inc()
                if (
                    attempt == self._max_attempts
                    and is_transient(exc)
                    and not await self._database_answers()
                ):
                    raise InfrastructureUnavailable(last_error) from exc
                log.warning(
                    "handler failed",
                    extra={"attempt": attempt, "events": len(items), "error": last_error},
                    exc_info=attempt == self._max_attempts,
                )
                await asyncio.sleep(self._retry_backoff_s * attempt)
        return last_error

    async def _database_answers(self) -> bool:
        """Tell an outage (the database is away) from an event whose handling times out."""
        try:
            async with asyncio.timeout(2), self._sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def _apply_once(self, items: list[_Parsed]) -> None:
        events = [item.event for item in items]
        keys = [(event.source, event.id) for event in events]  # Envelope.dedupe_key()
        unique = dict(zip(keys, events, strict=True))
        if len(unique) < len(keys):  # a duplicate in the poll: the first of each id is kept
            unique = {}
            for key, event in zip(keys, events, strict=True):
                unique.setdefault(key, event)
        if self._offsets is not None:
            await self._apply_storing_offsets(items, list(unique.values()))
            return
        async with self._transaction() as session:
            row = (
                await session.execute(
                    self._insert_inbox,
                    {
                        "consumer": self._group_id,
                        "sources": _json([key[0] for key in unique]),
                        "ids": _json([key[1] for key in unique]),
                        "total": len(unique),
                    },
                )
            ).one()
            if row.fresh == len(unique):
                fresh = list(unique.values())
            else:
                fresh_keys = set(zip(row.sources or (), row.ids or (), strict=True))
                fresh = [event for key, event in unique.items() if key in fresh_keys]
            if not fresh:
                return
            batch = Batch(session=session, events=fresh, clock=self._clock)
            await self._handler(batch)
            await stage(session, self._outbox, batch.emitted)
        if batch.emitted and self._on_committed is not None:
            self._on_committed()

    async def _apply_storing_offsets(self, items: list[_Parsed], events: list[Envelope]) -> None:
        """Offsets mode: the handler's effects and each partition's next offset, one commit."""
        # each partition's last record (later ones overwrite), then one TopicPartition each
        last = {(item.record.topic, item.record.partition): item.record.offset for item in items}
        nexts: dict[TopicPartition, int] = {}
        for (topic, partition), offset in last.items():
            tp = TopicPartition(topic, partition)
            nexts[tp] = min(self._unsettled.get(tp, offset + 1), offset + 1)
        async with self._transaction() as session:
            batch = Batch(session=session, events=events, clock=self._clock)
            await self._handler(batch)
            await stage(session, self._outbox, batch.emitted)
            await session.execute(
                self._store_offsets,
                {
                    "consumer": self._group_id,
                    "topics": _json([tp.topic for tp in nexts]),
                    "partitions": _json([tp.partition for tp in nexts]),
                    "nexts": _json(list(nexts.values())),
                },
            )
        if batch.emitted and self._on_committed is not None:
            self._on_committed()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on exit. While `run()` loops, every poll
        uses the same connection, kept checked out: no pool checkout (whose pre-ping is three
        round trips with asyncpg) per poll. After a failure it is returned to the pool (an
        invalidated one is discarded) and the next poll checks out a fresh, pinged one."""
        if not self._running or self._engine is None:
            async with self._sessions() as session, session.begin():
                yield session
            return
        if self._held is None:
            self._held = await self._engine.connect()
        try:
            async with self._sessions(bind=self._held) as session, session.begin():
                yield session
        except BaseException:
            await self._release_connection()
            raise

    async def _release_connection(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            with contextlib.suppress(Exception):
                await held.close()

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        """The group's assignment landed: offsets mode seeks first, then `joined` is set."""
        if self._offsets is not None:
            await self.seek_to_stored(assigned)
        self.joined.set()

    async def seek_to_stored(self, assigned: set[TopicPartition]) -> None:
        """Offsets mode: start each assigned partition after what a transaction stored."""
        if not assigned:
            return
        async with self._sessions() as session:
            rows = await session.execute(
                self._stored_offsets,
                {
                    "consumer": self._group_id,
                    "topics": _json(sorted({tp.topic for tp in assigned})),
                },
            )
            stored = {TopicPartition(row.topic, row.partition): row.next_offset for row in rows}
        for tp, offset in stored.items():
            if tp in assigned:  # the group's other members own the rest (seek would raise)
                self._consumer.seek(tp, offset)
        # aiokafka may still reset a partition without a committed offset after this
        # listener returns; records below the stored offset are then skipped in handle_poll.
        self._floors.update(stored)

    async def _commit(self, polled: dict[TopicPartition, list[Record]]) -> None:
        offsets = {tp: records[-1].offset + 1 for tp, records in polled.items() if records}
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance took the partitions: the next owner replays, the inbox dedupes.
            log.warning("offset commit failed; records will be replayed", extra={"error": str(exc)})


class _Assignments(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands each assignment to the consumer (offsets mode seeks to the stored offsets)."""

    def __init__(self, consumer: BatchConsumer) -> None:
        self._owner = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._owner.on_assigned(assigned)


def _json(values: list[str] | list[int]) -> str:
    """A statement's list parameter: one JSON array, unpacked in SQL."""
    return orjson.dumps(values).decode()


async def _first_of(*events: asyncio.Event) -> None:
    """Wait until any of `events` is set."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
