"""The accept use case: validate, claim unseen ids, publish with acks=all, then commit.

Order matters: the claim of an event's (source, id) commits only after the broker
acknowledged it, so a client's retry of an event we could not publish goes through. A
crash between the ack and the commit re-publishes on retry; consumers dedupe by
(source, id).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import Counter
from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict

from fourfold.clock import Clock
from fourfold.events.envelope import Envelope
from fourfold.events.problems import field_problems, problems_summary
from fourfold.events.registry import INPUT_EVENT_TYPES, InputEvent, parse_input_event
from fourfold.ingest import repository
from fourfold.ingest.claims import ClaimConnections
from fourfold.ingest.schemas import EventResult, EventStatus
from fourfold.kafka.outbox import CONTENT_TYPE
from fourfold.kafka.producer import EventProducer, OutgoingRecord

log = logging.getLogger(__name__)
INGESTED = Counter("fourfold_ingest_events_total", "Events by outcome.", ["result"])
_ACCEPTED, _DUPLICATE, _REJECTED = (
    INGESTED.labels(r) for r in ("accepted", "duplicate", "rejected")
)


class Outcome(TypedDict):
    """An `IngestResponse` as plain data, encoded straight to JSON."""

    accepted: int
    duplicates: int
    rejected: int
    results: list[dict[str, Any]]


_batch_adapter: TypeAdapter[list[InputEvent]] = TypeAdapter(list[InputEvent])
_event_adapter: TypeAdapter[InputEvent] = TypeAdapter(InputEvent)


@dataclass(frozen=True, slots=True)
class Valid:
    index: int
    event: Envelope
    raw: Any  # the event as the client sent it: published as is, byte-for-byte in fields
    key: str  # the partition key, computed once

    @classmethod
    def of(cls, index: int, event: Envelope, raw: Any) -> Valid:
        return cls(index, event, raw, event.key)


def validate(items: Sequence[Any]) -> tuple[list[Valid], list[EventResult]]:
    """Split raw JSON items into valid events and rejections naming the field.

    The whole batch is validated in one call first (the common, all-valid case); only a
    batch with a bad event is walked one by one to say which and why. A single event (every
    webhook) is validated by the event's own adapter: no list to wrap, zip or walk.
    """
    try:
        if len(items) == 1:
            return [Valid.of(0, _event_adapter.validate_python(items[0]), items[0])], []
        events = _batch_adapter.validate_python(items)
    except ValidationError:
        valid, rejected = _validate_each(items)
        log.warning(
            "rejected events",
            extra={
                "rejected": len(rejected),
                "of": len(items),
                "first_problem": problems_summary(rejected[0].errors) if rejected else "",
            },
        )
        return valid, rejected
    return [
        Valid.of(i, event, item) for i, (event, item) in enumerate(zip(events, items, strict=True))
    ], []


def _validate_each(items: Sequence[Any]) -> tuple[list[Valid], list[EventResult]]:
    valid: list[Valid] = []
    rejected: list[EventResult] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise TypeError("each event must be a JSON object")
            valid.append(Valid.of(index, parse_input_event(item), item))
        except ValidationError as exc:
            rejected.append(_rejection(index, item, field_problems(exc)))
        except TypeError as exc:
            problem = {"loc": [], "msg": str(exc), "type": "object_type"}
            rejected.append(_rejection(index, item, [problem]))
    return valid, rejected


def _rejection(index: int, item: Any, errors: Any) -> EventResult:
    ident = item.get("id") if isinstance(item, dict) else None
    source = item.get("source") if isinstance(item, dict) else None
    return EventResult(
        index=index,
        id=ident if isinstance(ident, str) else None,
        source=source if isinstance(source, str) else None,
        status=EventStatus.REJECTED,
        errors=errors,
    )


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request's share of a group: its valid events and its rejections."""

    valid: list[Valid]
    rejected: list[EventResult]


async def accept(
    valid: list[Valid],
    results: list[EventResult],
    *,
    claims: ClaimConnections,
    producer: EventProducer,
    clock: Clock,
) -> Outcome:
    """Publish the valid, unseen events; report every event's outcome in request order.

    `valid` and `results` (the rejections) come from `validate`.
    """
    [outcome] = await accept_group(
        [Request(valid, results)], claims=claims, producer=producer, clock=clock
    )
    return outcome


async def accept_group(
    requests: Sequence[Request],
    *,
    claims: ClaimConnections,
    producer: EventProducer,
    clock: Clock,
) -> list[Outcome]:
    """`accept` for several requests at once: one claim statement, one producer flush, one
    commit after the broker acknowledged every record; one outcome per request, in order.

    The first copy of an event in the group (in request order) is the one published; a
    later copy, in the same request or another, is its duplicate. The group commits or
    fails as one: on an outage nothing of any of its requests is remembered.
    """
    first: dict[tuple[str, str], tuple[int, Valid]] = {}  # key -> (request, its first copy)
    repeats: list[list[Valid]] = [[] for _ in requests]
    for n, request in enumerate(requests):
        for item in request.valid:
            if first.setdefault(item.event.dedupe_key(), (n, item))[1] is not item:
                repeats[n].append(item)
    # Claimed in key order: two transactions sharing ids (another replica's, say) lock their
    # rows in the same order and cannot deadlock. Publishing below keeps the requests' order.
    sources, ids, types, keys = [], [], [], []
    for (source, event_id), (_, item) in sorted(first.items(), key=lambda pair: pair[0]):
        sources.append(source)
        ids.append(event_id)
        types.append(item.event.type)
        keys.append(item.key)
    async with claims.transaction() as connection:
        seen_before = await repository.claim(
            connection, sources=sources, ids=ids, types=types, keys=keys, accepted_at=clock.now()
        )
        fresh: list[list[Valid]] = [[] for _ in requests]
        for key, (n, item) in first.items():
            (repeats if key in seen_before else fresh)[n].append(item)
        # Raises BrokerUnavailable unless every record is acknowledged: then we roll back.
        await producer.send_all([broker_record(item) for items in fresh for item in items])
    return [
        _tally(accepted, duplicates, request.rejected)
        for accepted, duplicates, request in zip(fresh, repeats, requests, strict=True)
    ]


def _tally(fresh: list[Valid], duplicates: list[Valid], results: list[EventResult]) -> Outcome:
    outcomes = [_outcome(item, EventStatus.ACCEPTED) for item in fresh]
    if duplicates or results:  # all accepted (every webhook): in request order already
        outcomes += [_outcome(item, EventStatus.DUPLICATE) for item in duplicates]
        outcomes += [result.model_dump(mode="json") for result in results]
        outcomes.sort(key=lambda outcome: outcome["index"])
    # Children bound once (labels() is a locked lookup), and a locked inc only when counted.
    for counter, counted in ((_ACCEPTED, fresh), (_DUPLICATE, duplicates), (_REJECTED, results)):
        if counted:
            counter.inc(len(counted))
    return Outcome(
        accepted=len(fresh), duplicates=len(duplicates), rejected=len(results), results=outcomes
    )


# Per event type, the record headers (shared, never mutated): built once, not per event.
_HEADERS = {
    event_type: [CONTENT_TYPE, ("ce_type", event_type.encode())] for event_type in INPUT_EVENT_TYPES
}


def broker_record(item: Valid) -> OutgoingRecord:
    """The event's record with the client's own JSON as value (validated, not re-encoded):
    what every consumer of its topic reads."""
    event = item.event
    return OutgoingRecord(
        event.topic, item.key.encode(), orjson.dumps(item.raw), _HEADERS[event.type]
    )


def _outcome(item: Valid, status: EventStatus) -> dict[str, Any]:
    """One `EventResult`, as the plain dict the response encodes (the hot path: no model)."""
    event = item.event
    return {
        "index": item.index,
        "id": event.id,
        "source": event.source,
        "status": status.value,
        "errors": [],
    }
