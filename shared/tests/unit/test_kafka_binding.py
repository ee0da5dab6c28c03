"""The CloudEvents Kafka binding without a broker: records → events, or a named problem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError

from fourfold.events import UsageReported
from fourfold.events.binary_mode import BinaryModeError
from fourfold.kafka.cloudevents_binding import event_from_record
from fourfold.testing.samples import usage_reported


@dataclass
class Record:
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "product.usage"
    partition: int = 0
    offset: int = 0
    key: bytes | None = b"c1"


SAMPLE = usage_reported("e-1", "c1")
DATA = b'{"customer_id":"c1","metric":"active_users","value":12,'
DATA += b'"period_start":"2026-03-04T00:00:00Z","period_end":"2026-03-05T00:00:00Z"}'


def headers(**override: str | None) -> list[tuple[str, bytes]]:
    attributes: dict[str, str | None] = {
        name: str(SAMPLE[name]) for name in ("specversion", "id", "source", "type", "time")
    }
    attributes.update(override)
    found = [(f"ce_{k}", v.encode()) for k, v in attributes.items() if v is not None]
    return [*found, ("content-type", b"application/json")]


def test_binary_record_is_the_event_its_structured_twin_is() -> None:
    import orjson

    binary = event_from_record(Record(DATA, headers()))
    structured = event_from_record(Record(orjson.dumps(SAMPLE)))

    assert isinstance(binary, UsageReported)
    assert binary.data == structured.data
    assert (binary.id, binary.source, binary.time) == (
        structured.id,
        structured.source,
        structured.time,
    )


@pytest.mark.parametrize(
    ("record", "named"),
    [
        (Record(DATA, headers(id=None)), "ce_id"),
        (Record(DATA, headers(source=None)), "ce_source"),
        (Record(DATA, headers(time=None)), "ce_time"),
        (Record(DATA, headers(time="soon")), "ce_time"),
        (Record(DATA, headers(type="usage.nope")), "ce_type"),
        (Record(DATA, [*headers()[:-1], ("content-type", b"text/plain")]), "content-type"),
        (Record(b"{oops", headers()), "body"),
        (Record(DATA.replace(b"12", b"-1"), headers()), "body.value"),
        (Record(DATA, [*headers(), ("ce_subject", b"\xff")]), "ce_subject"),
    ],
)
def test_a_bad_binary_record_names_the_header_or_field(record: Record, named: str) -> None:
    with pytest.raises(BinaryModeError) as raised:
        event_from_record(record)
    assert str(raised.value).split(":", 1)[0] == named


def test_structured_record_without_value_or_valid_json_is_refused() -> None:
    with pytest.raises(ValueError, match="no value"):
        event_from_record(Record(None))
    with pytest.raises(ValidationError):
        event_from_record(Record(b"{}"))


def test_a_structured_record_with_ce_headers_too_is_read_as_structured() -> None:
    import orjson

    both = [*headers()[:-1], ("content-type", b"application/cloudevents+json; charset=utf-8")]
    event = event_from_record(Record(orjson.dumps(SAMPLE), both))

    assert event.id == SAMPLE["id"]
