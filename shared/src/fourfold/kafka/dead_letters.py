"""Dead letters: a record that cannot be parsed or keeps failing goes to `<topic>.dlq`.

The DLQ record keeps the original key and value byte for byte; headers say why and where
it came from, so an operator can fix and replay it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson

from fourfold.events.problems import FieldProblem
from fourfold.events.registry import dlq_topic
from fourfold.kafka.producer import OutgoingRecord


class ConsumedRecord(Protocol):
    """The fields of an aiokafka ConsumerRecord the runtime relies on (aiokafka is untyped)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: ConsumedRecord
    reason: str  # short machine-readable class: unparseable | handler_failed
    detail: str
    event_id: str | None = None  # known when the record parsed

    @classmethod
    def unparseable(
        cls, record: ConsumedRecord, problems: str | Sequence[FieldProblem]
    ) -> DeadLetter:
        """A record that is not a valid event; its `id` is still named when the value is a
        JSON object carrying a string one, so an operator can find the event at its source."""
        detail = problems if isinstance(problems, str) else describe(problems)
        return cls(record, "unparseable", detail, json_id(record.value))

    def to_outgoing(self, *, service: str) -> OutgoingRecord:
        record = self.record
        return OutgoingRecord(
            topic=dlq_topic(record.topic),
            key=record.key or b"",
            value=record.value or b"",
            headers=[
                ("dlq.reason", self.reason.encode()),
                ("dlq.detail", self.detail[:2000].encode()),
                ("dlq.service", service.encode()),
                ("dlq.topic", record.topic.encode()),
                ("dlq.partition", str(record.partition).encode()),
                ("dlq.offset", str(record.offset).encode()),
                ("dlq.event_id", (self.event_id or "").encode()),
            ],
        )


def describe(problems: Sequence[FieldProblem]) -> str:
    """One line naming each problem's field path (`data.value: ...`); a problem of the whole
    record (no path, e.g. invalid JSON) is its message alone."""
    return "; ".join(
        ".".join(str(part) for part in item["loc"]) + ": " + item["msg"]
        if item["loc"]
        else item["msg"]
        for item in problems
    )


def json_id(value: bytes | None) -> str | None:
    """The `id` of a record whose value is a JSON object with a non-empty string `id`."""
    if not value:
        return None
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    ident = document.get("id") if isinstance(document, dict) else None
    return ident if isinstance(ident, str) and ident else None
