"""The CloudEvents Kafka protocol binding: a consumed record → the event it carries.

Structured mode (the whole event as the value, `content-type:
application/cloudevents+json`, what Fourfold's own producers write) and binary mode
(attributes in `ce_<name>` headers, the value is `data` typed by `content-type`) are both
accepted; a record is binary when it carries `ce_specversion` and its content type is not
`application/cloudevents+json`, as the binding says. A record that cannot be read raises
ValueError (BinaryModeError naming the `ce_` header) or pydantic's ValidationError, which
the consumer dead-letters with that text as the detail.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from fourfold.events.binary_mode import BinaryModeError, relocate, to_structured
from fourfold.events.envelope import Envelope
from fourfold.events.problems import field_problems
from fourfold.events.registry import parse_event
from fourfold.kafka.dead_letters import ConsumedRecord

PREFIX = "ce_"


def event_from_record(record: ConsumedRecord) -> Envelope:
    """Validate the record's event, whichever content mode its producer used."""
    headers = record.headers
    if not _binary(headers):
        if record.value is None:
            raise ValueError("record has no value")
        return parse_event(record.value)
    attributes: dict[str, str] = {}
    content_type: str | None = None
    for name, raw in headers:
        try:
            text = raw.decode()
        except UnicodeDecodeError as exc:
            raise BinaryModeError(
                [{"loc": ["header", name], "msg": "header is not UTF-8", "type": "unicode"}]
            ) from exc
        if name.startswith(PREFIX):
            attributes[name[len(PREFIX) :]] = text
        elif name.lower() == "content-type":
            content_type = text
    event = to_structured(attributes, record.value, content_type, prefix=PREFIX)
    try:
        return parse_event(event)
    except ValidationError as exc:
        raise BinaryModeError(relocate(field_problems(exc), prefix=PREFIX)) from exc


def _binary(headers: Sequence[tuple[str, bytes]]) -> bool:
    """Binary mode: a `ce_specversion` header, unless the content type says structured."""
    binary = False
    for name, value in headers:
        if name == "ce_specversion":
            binary = True
        elif name.lower() == "content-type" and value.startswith(b"application/cloudevents"):
            return False
    return binary
