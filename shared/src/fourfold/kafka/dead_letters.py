"""Dead letters: a record that cannot be parsed or keeps failing goes to `<topic>.dlq`.

The DLQ record keeps the original key and value byte for byte; headers say why and where
it came from, so an operator can fix and replay it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

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
