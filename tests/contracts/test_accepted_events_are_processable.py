"""What ingest accepts, every consumer can process.

Events are generated from the published JSON Schemas (docs/events/v1/, hypothesis-jsonschema),
sent through ingest's own validation as a POST body would be (JSON text, decoded the way the
route decodes it), and every event ingest accepts is handed, as the record ingest would
publish, to every consumer of its topic: the consumer's real runtime (`BatchConsumer`:
parse, inbox or stored offsets as its app runs it, handler, outbox, retries) running its
real handler on PostgreSQL. The property: each generated event is either rejected by ingest
or processed by every consumer without a dead letter.

Derived events (what Fourfold's services publish) are checked the same way for the
consumers that read them, with the contract parse standing in for ingest: a service
validates what it emits against the same contract before it stages it.

Adding a consumer is one entry in `CONSUMERS` (its migrations, inbox, outbox and (offsets
mode) stored-offsets tables, topics and handler factory); every event type of its topics is
then checked for it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning
from hypothesis.internal.conjecture.utils import _calc_p_continue
from hypothesis_jsonschema import _from_schema as _from_schema_module
from hypothesis_jsonschema import from_schema
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.clock import ManualClock
from fourfold.db.engine import create_engine, session_factory
from fourfold.db.migrations import upgrade
from fourfold.events.registry import ALL_EVENT_TYPES, INPUT_EVENT_TYPES, parse_event
from fourfold.health import models as health_models
from fourfold.health.app import MIGRATIONS_DIR as HEALTH_MIGRATIONS
from fourfold.health.consumer import INPUT_TOPICS as HEALTH_TOPICS
from fourfold.health.consumer import build_handler as health_handler
from fourfold.health.domain.scorecard import default_scorecard
from fourfold.incentives import models as incentives_models
from fourfold.incentives.app import MIGRATIONS_DIR as INCENTIVES_MIGRATIONS
from fourfold.incentives.consumer import INPUT_TOPICS as INCENTIVES_TOPICS
from fourfold.incentives.consumer import build_handler as incentives_handler
from fourfold.incentives.domain.program import default_program_text
from fourfold.incentives.programs import Programs
from fourfold.incentives.programs import install as install_program
from fourfold.ingest.intake import broker_record, validate
from fourfold.kafka.consumer import Batch, BatchConsumer, Handler
from fourfold.kafka.producer import EventProducer
from fourfold.notifications import models as notifications_models
from fourfold.notifications.app import MIGRATIONS_DIR as NOTIFICATIONS_MIGRATIONS
from fourfold.notifications.consumer import INPUT_TOPICS as NOTIFICATIONS_TOPICS
from fourfold.notifications.consumer import build_handler as notifications_handler
from fourfold.notifications.domain.config import default_config as default_rules
from fourfold.notifications.evaluation import Ruleset

pytestmark = pytest.mark.integration

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events" / "v1"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
EXAMPLES = 20
"""Examples per (event type, consumer): enough to reach the bounds, few enough to stay fast."""


@dataclass(frozen=True)
class ConsumerUnderTest:
    """One service's consumer, as its app wires it."""

    name: str
    migrations_dir: Path
    inbox: Table
    outbox: Table
    topics: frozenset[str]
    handler: Callable[[], Handler]
    offsets: Table | None = None
    """The stored-offsets table of a consumer that runs in offsets mode (health-scoring,
    incentives)."""


CONSUMERS: tuple[ConsumerUnderTest, ...] = (
    ConsumerUnderTest(
        "health-scoring",
        HEALTH_MIGRATIONS,
        health_models.inbox,
        health_models.outbox,
        frozenset(HEALTH_TOPICS),
        lambda: health_handler(default_scorecard()),
        offsets=health_models.consumer_offsets,
    ),
    ConsumerUnderTest(
        "notifications",
        NOTIFICATIONS_MIGRATIONS,
        notifications_models.inbox,
        notifications_models.outbox,
        frozenset(NOTIFICATIONS_TOPICS),
        lambda: notifications_handler(Ruleset.of(default_rules())),
    ),
    ConsumerUnderTest(
        "incentives",
        INCENTIVES_MIGRATIONS,
        incentives_models.inbox,
        incentives_models.outbox,
        frozenset(INCENTIVES_TOPICS),
        lambda: _with_default_program(incentives_handler(Programs(refresh_s=0))),
        offsets=incentives_models.consumer_offsets,
    ),
)


def _with_default_program(handler: Handler) -> Handler:
    """The incentives handler with the default program stored and activated in the batch's
    transaction, as the app's start does: each example empties every table, programs too."""

    async def handle(batch: Batch) -> None:
        await install_program(batch.session, default_program_text(), at=NOW)
        await handler(batch)

    return handle


class _Many:
    """The `many` protocol hypothesis-jsonschema 0.23.1 (the latest) drives (`more()`,
    `reject()`), which hypothesis 6.170 replaced by an iterator: the same choices, drawn
    through the public-to-conjecture `draw_boolean`."""

    def __init__(
        self, data: Any, min_size: int, max_size: float, average_size: float, **_: Any
    ) -> None:
        self.data, self.min_size, self.max_size = data, min_size, max_size
        self.p_continue = _calc_p_continue(average_size - min_size, max_size - min_size)
        self.count = self.rejections = 0
        self.force_stop = False

    def more(self) -> bool:
        if self.min_size == self.max_size:
            go = self.count < self.min_size
        else:
            forced: bool | None = None
            if self.force_stop or self.count >= self.max_size:
                forced = False
            elif self.count < self.min_size:
                forced = True
            p = self.p_continue if forced is None else float(forced)
            go = self.data.draw_boolean(p, forced=forced)
        if go:
            self.count += 1
        return bool(go)

    def reject(self, why: str | None = None) -> None:
        self.count -= 1
        self.rejections += 1
        if self.rejections > max(3, 2 * self.count):
            if self.count < self.min_size:
                self.data.mark_invalid(why)
            self.force_stop = True


_from_schema_module.cu = SimpleNamespace(many=_Many)


def _offset(minutes: int) -> str:
    if minutes == 0:
        return "Z"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


# hypothesis-jsonschema draws RFC 3339 years from 0..9999 and then filters by the schema's
# year pattern, which would discard almost every draw. These draw every RFC 3339 shape
# (fractions, any offset) over years on both sides of the window, so the pattern both passes
# most draws and still sees the edges.
_YEARS = {  # naive on purpose: the wall time, before its offset is written after it
    "min_value": datetime(1960, 1, 1),  # noqa: DTZ001
    "max_value": datetime(2400, 12, 31),  # noqa: DTZ001
}
DATE_TIMES = st.builds(
    lambda at, offset: at.isoformat() + _offset(offset),
    st.datetimes(**_YEARS),
    st.one_of(st.just(0), st.integers(-23 * 60 - 59, 23 * 60 + 59)),
)
DATES = st.dates(_YEARS["min_value"].date(), _YEARS["max_value"].date()).map(str)


def _schema(event_type: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{event_type}.json").read_text())
    return loaded


def _events(event_type: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    with warnings.catch_warnings():  # we override the standard formats on purpose
        warnings.simplefilter("ignore", HypothesisWarning)
        one = from_schema(
            _schema(event_type), custom_formats={"date-time": DATE_TIMES, "date": DATES}
        )
    return st.lists(one, min_size=1, max_size=4)


@dataclass(frozen=True, slots=True)
class Record:
    """A consumed record, as aiokafka would hand it to the runtime."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=tuple)


@dataclass
class Running:
    spec: ConsumerUnderTest
    consumer: BatchConsumer
    engine: AsyncEngine
    processed: int = 0

    async def forget(self) -> None:
        """Empty every table of the consumer's schema (not its migration record), so that each
        example starts from nothing and a failure replays the same way when shrunk. Triggers
        are off for it (`session_replication_role`): a ledger's append-only guard refuses
        DELETE, which only this test's reset does."""
        async with self.engine.begin() as connection:
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            names = await connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> 'alembic_version'"
                )
            )
            names_list = [name for (name,) in names]
            if names_list:
                for name in names_list:
                    await connection.execute(text(f'DELETE FROM "{name}"'))


@dataclass
class Consumers:
    """The consumers and the event loop they run on (hypothesis drives a sync test, and each
    example runs the consumer on this loop)."""

    loop: asyncio.AbstractEventLoop
    by_name: dict[str, Running]


@pytest.fixture
def consumers(database_url: str, kafka_bootstrap: str) -> Iterator[Consumers]:
    loop = asyncio.new_event_loop()
    context = _running(database_url, kafka_bootstrap)
    try:
        yield Consumers(loop, loop.run_until_complete(anext(context)))
    finally:
        loop.run_until_complete(context.aclose())
        loop.close()


async def _running(database_url: str, bootstrap: str) -> AsyncIterator[dict[str, Running]]:
    """Every consumer in `CONSUMERS` on its own migrated schema. Its Kafka consumer is never
    started: the test hands it the records ingest would publish (no dead letter is sent)."""
    schemas: list[str] = []
    engines: list[AsyncEngine] = []
    started: dict[str, Running] = {}
    producer = EventProducer(bootstrap)
    await producer.start()
    try:
        for spec in CONSUMERS:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            schemas.append(schema)
            await upgrade(url=database_url, schema=schema, migrations_dir=spec.migrations_dir)
            engine = create_engine(database_url, schema=schema)
            engines.append(engine)
            consumer = BatchConsumer(
                bootstrap_servers=bootstrap,
                group_id=f"contracts-{spec.name}",
                topics=sorted(spec.topics),
                sessions=session_factory(engine),
                inbox=spec.inbox,
                outbox=spec.outbox,
                producer=producer,
                handler=spec.handler(),
                service=spec.name,
                clock=ManualClock(NOW),
                max_attempts=1,
                retry_backoff_s=0,
                offsets=spec.offsets,
            )
            started[spec.name] = Running(spec, consumer, engine)
        yield started
    finally:
        for run in started.values():
            await run.consumer.close()
        await producer.stop()
        for engine in engines:
            await engine.dispose()
        if schemas:
            engine = create_engine(database_url, schema="public")
            async with engine.begin() as connection:
                for schema in schemas:
                    await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await engine.dispose()


def _published(raws: list[dict[str, Any]], event_type: str) -> list[Record]:
    """The records the producer side would publish for `raws`: ingest's own validation and
    record for input events; the contract itself for derived ones."""
    body = orjson.loads(orjson.dumps(raws))  # as POST /v1/events decodes its body
    if event_type in INPUT_EVENT_TYPES:
        valid, _rejected = validate(body)
        outgoing = [broker_record(item) for item in valid]
        return [Record(r.topic, 0, i, r.key, r.value, r.headers) for i, r in enumerate(outgoing)]
    records = []
    for i, raw in enumerate(body):
        try:
            event = parse_event(raw)
        except ValueError:
            continue  # the emitting service's own validation refuses it
        records.append(Record(event.topic, 0, i, event.key.encode(), event.to_json_bytes()))
    return records


CASES = [
    pytest.param(event_type, spec.name, id=f"{event_type}->{spec.name}")
    for event_type, model in sorted(ALL_EVENT_TYPES.items())
    for spec in CONSUMERS
    if model.topic in spec.topics
]


@pytest.mark.parametrize(("event_type", "consumer_name"), CASES)
def test_accepted_events_are_processed_without_a_dead_letter(
    consumers: Consumers, event_type: str, consumer_name: str
) -> None:
    target = consumers.by_name[consumer_name]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        # One consumer and schema for all examples (emptied before each): migrating per
        # example would cost seconds each.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(raws=_events(event_type))
    def accepted_means_processed(raws: list[dict[str, Any]]) -> None:
        for raw in raws:
            raw["id"] = uuid.uuid4().hex  # the inbox would skip a repeated id unprocessed
        records = _published(raws, event_type)
        consumers.loop.run_until_complete(target.forget())
        dead = consumers.loop.run_until_complete(target.consumer.apply_records(records))
        assert not dead, (
            f"{consumer_name} dead-lettered what was accepted: "
            + "; ".join(f"{d.reason}: {d.detail}" for d in dead)
            + f"\nrecords: {[r.value for r in records]}"
        )
        target.processed += len(records)

    accepted_means_processed()
    # The property holds vacuously if nothing is ever accepted: the schemas must let through
    # events the consumers then really process.
    assert target.processed > 0, f"no generated {event_type} was accepted"


def test_every_consumed_topic_is_checked() -> None:
    """A consumer listed here is checked for every event type of its topics."""
    topics = {model.topic for model in ALL_EVENT_TYPES.values()}
    for spec in CONSUMERS:
        assert spec.topics <= topics, f"{spec.name} reads a topic no event type has"
        assert any(param.values[1] == spec.name for param in CASES)
