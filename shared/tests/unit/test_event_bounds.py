"""The bounds the contracts carry: the issue's overflowing events are refused naming the field,
the edges of each bound are accepted, and the JSON Schemas publish the same bounds."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema
import orjson
import pytest
from pydantic import ValidationError

from fourfold.events import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    MAX_QUANTITY,
    MAX_SEATS,
    parse_event,
    parse_input_event,
)
from fourfold.events.problems import field_problems
from fourfold.events.schemas import render_schemas
from fourfold.testing.samples import subscription_created, usage_reported

Raw = dict[str, Any]
USAGE = usage_reported("e-1", "c-1")
CREATED = subscription_created("e-2", "c-2")
SCHEMAS = {name: orjson.loads(text) for name, text in render_schemas().items()}


def changed(raw: Raw, path: str, value: Any) -> Raw:
    """A copy of `raw` with the dotted `path` set, sent as JSON text would decode it."""
    copied = copy.deepcopy(raw)
    *parents, last = path.split(".")
    target = copied
    for part in parents:
        target = target[part]
    target[last] = value
    return copied


def decoded(raw: Raw) -> Raw:
    """As ingest's body decoder reads it (orjson turns a 30-digit integer into a float)."""
    loaded: Raw = orjson.loads(orjson.dumps(raw)) if _fits(raw) else raw
    return loaded


def _fits(raw: Any) -> bool:
    if isinstance(raw, dict):
        return all(_fits(v) for v in raw.values())
    return not isinstance(raw, int) or abs(raw) < 2**63


REFUSED: list[tuple[str, Raw, list[str]]] = [
    ("usage value 1e308", changed(USAGE, "data.value", 1e308), ["data", "value"]),
    ("usage value of 30 digits", changed(USAGE, "data.value", 10**29 + 7), ["data", "value"]),
    (
        "usage value just above the maximum",
        changed(USAGE, "data.value", MAX_QUANTITY * 1.000001),
        ["data", "value"],
    ),
    (
        "period in year 9999",
        changed(USAGE, "data.period_start", "9999-01-01T00:00:00Z"),
        ["data", "period_start"],
    ),
    ("time in year 9999", changed(USAGE, "time", "9999-12-31T23:59:59Z"), ["time"]),
    ("time before 1970", changed(USAGE, "time", "1969-12-31T23:59:59Z"), ["time"]),
    (
        "term end in year 9999",
        changed(CREATED, "data.term_end", "9999-12-31"),
        ["data", "term_end"],
    ),
    (
        "start date in year 1",
        changed(CREATED, "data.start_date", "0001-01-01"),
        ["data", "start_date"],
    ),
    ("seats of 30 digits", changed(CREATED, "data.seats", 10**29), ["data", "seats"]),
    ("seats above the maximum", changed(CREATED, "data.seats", MAX_SEATS + 1), ["data", "seats"]),
    (
        "features available of 30 digits",
        changed(CREATED, "data.features_available", 10**29),
        ["data", "features_available"],
    ),
    (
        "an unknown currency",
        changed(CREATED, "data.mrr.currency", "ZZZ"),
        ["data", "mrr", "currency"],
    ),
    (
        "gold is no currency",
        changed(CREATED, "data.mrr.currency", "XAU"),
        ["data", "mrr", "currency"],
    ),
    (
        "an amount of 15 integer digits",
        changed(CREATED, "data.mrr.amount", "1" * 15),
        ["data", "mrr", "amount"],
    ),
    ("a subject with a NUL", changed(USAGE, "subject", "a\x00b"), ["subject"]),
    ("a subject of 3000 characters", changed(USAGE, "subject", "s" * 3000), ["subject"]),
]


@pytest.mark.parametrize(
    ("raw", "loc"), [pytest.param(raw, loc, id=name) for name, raw, loc in REFUSED]
)
def test_a_value_no_consumer_can_handle_is_refused_naming_the_field(
    raw: Raw, loc: list[str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_input_event(decoded(raw))
    assert loc in [problem["loc"] for problem in field_problems(caught.value)]


ACCEPTED: list[tuple[str, Raw, Callable[[Any], Any]]] = [
    ("the largest usage value", changed(USAGE, "data.value", MAX_QUANTITY), lambda e: e.data.value),
    (
        "the first instant of the window",
        changed(USAGE, "time", f"{EARLIEST_YEAR}-01-01T00:00:00Z"),
        lambda e: e.time,
    ),
    (
        "the last day of the window, far east of UTC",
        changed(USAGE, "time", f"{LATEST_YEAR}-12-31T23:59:59-23:59"),
        lambda e: e.time,
    ),
    ("the most seats", changed(CREATED, "data.seats", MAX_SEATS), lambda e: e.data.seats),
    (
        "yen without a minor unit",
        changed(CREATED, "data.mrr", {"amount": "1200", "currency": "JPY"}),
        lambda e: e.data.mrr,
    ),
    (
        "the largest amount",
        changed(CREATED, "data.mrr.amount", "99999999999999.9999"),
        lambda e: e.data.mrr,
    ),
    (
        "an extension attribute",
        changed(USAGE, "traceparent", "00-abc-01"),
        lambda e: e.extensions(),
    ),
]


@pytest.mark.parametrize(
    ("raw", "read"), [pytest.param(raw, read, id=name) for name, raw, read in ACCEPTED]
)
def test_the_edges_of_each_bound_are_accepted(raw: Raw, read: Callable[[Any], Any]) -> None:
    assert read(parse_input_event(decoded(raw))) is not None


@pytest.mark.parametrize(
    "raw",
    [pytest.param(raw, id=name) for name, raw, _ in REFUSED],
)
def test_the_published_schema_refuses_the_same_values(raw: Raw) -> None:
    schema = SCHEMAS[f"v1/{raw['type']}.json"]
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert not validator.is_valid(decoded(raw))


@pytest.mark.parametrize("raw", [USAGE, CREATED])
def test_the_published_schema_accepts_the_samples(raw: Raw) -> None:
    schema = SCHEMAS[f"v1/{raw['type']}.json"]
    jsonschema.Draft202012Validator(schema).validate(raw)


@pytest.mark.parametrize(
    ("name", "value"),
    [("Bad", "x"), ("much-too-long-and-dashed", "x"), ("ext", 2**40), ("ext", [1]), ("ext", None)],
)
def test_extension_attributes_follow_cloudevents(name: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        parse_event(changed(USAGE, name, value))
