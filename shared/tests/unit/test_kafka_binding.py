"""The CloudEvents Kafka binding without a broker: records → events, or a named problem."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fourfold.events import UsageReported
from fourfold.events.binary_mode import BinaryModeError
from fourfold.events.envelope import Envelope
from fourfold.kafka.cloudevents_binding import event_from_record, parse_record
from fourfold.testing.samples import milestone_completed, subscription_created, usage_reported


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


# ------------------------------------------------------------------- the consumer's fast road


def outcome(parse: Callable[[Record], Envelope], record: Record) -> object:
    """What a parser makes of `record`: the event, or the error's type and its problems."""
    try:
        return parse(record)
    except ValidationError as exc:
        # Without `ctx`: a validator's error there is an exception object, and two equal
        # exceptions never compare equal (the message in `msg` carries its text).
        return ("ValidationError", exc.errors(include_url=False, include_context=False))
    except ValueError as exc:
        return (type(exc).__name__, str(exc))


SAMPLES = [
    usage_reported("e-1", "c1"),
    subscription_created("s-1", "c1"),
    milestone_completed("m-1", "c1"),
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@st.composite
def mutated_records(draw: st.DrawFn) -> Record:
    """A sample event with a field dropped, replaced or added, at the top or in `data`."""
    event = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    target = event["data"] if draw(st.booleans()) else event
    name = draw(st.sampled_from([*target, "extra", "type"]))
    action = draw(st.sampled_from(["keep", "drop", "replace"]))
    if action == "drop":
        target.pop(name, None)
    elif action == "replace":
        target[name] = draw(
            json_values | st.sampled_from(["usage.reported", "", "\x00", "x" * 300])
        )
    value = orjson.dumps(event)
    if draw(st.booleans()):
        value = value[: draw(st.integers(0, len(value)))]  # truncated: not JSON
    return Record(value, draw(st.sampled_from([[], [("content-type", b"x")]])))


@settings(max_examples=400, deadline=None)
@given(mutated_records())
def test_the_fast_parser_accepts_and_refuses_what_event_from_record_does(record: Record) -> None:
    assert outcome(parse_record, record) == outcome(event_from_record, record)


@pytest.mark.parametrize(
    "record",
    [
        Record(orjson.dumps(SAMPLE)),
        Record(None),
        Record(b"{}"),
        Record(b"not json"),
        Record(DATA, headers()),  # binary mode: the general road
        Record(DATA, headers(id=None)),
        Record(orjson.dumps({**SAMPLE, "type": "health.changed"})),  # a derived type's shape
    ],
)
def test_the_fast_parser_agrees_on_each_kind_of_record(record: Record) -> None:
    assert outcome(parse_record, record) == outcome(event_from_record, record)
