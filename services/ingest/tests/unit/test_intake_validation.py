"""Decoding and validating a POST /v1/events body: pure functions, no app, no I/O."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fourfold.errors import PayloadTooLarge, UnsupportedMediaType
from fourfold.ingest.api import _events_from
from fourfold.ingest.errors import MalformedJson
from fourfold.ingest.intake import validate
from fourfold.ingest.schemas import EventStatus
from fourfold.testing.samples import milestone_completed, subscription_created, usage_reported

MAX = 3
EVENT = usage_reported("e-1", "c-1")
ONE = orjson.dumps(EVENT)
TWO = orjson.dumps([EVENT, usage_reported("e-2", "c-2")])


@pytest.mark.parametrize(
    ("content_type", "body", "single", "count"),
    [
        ("application/cloudevents+json", ONE, True, 1),
        ("application/json", ONE, True, 1),
        ("application/cloudevents-batch+json", TWO, False, 2),
        ("application/json", TWO, False, 2),
        ("application/cloudevents+json; charset=utf-8", ONE, True, 1),
        ("application/cloudevents-batch+json;charset=UTF-8", TWO, False, 2),
        ("Application/JSON ; charset=utf-8", TWO, False, 2),
        ("  application/json", ONE, True, 1),
        ("application/json", orjson.dumps([EVENT] * MAX), False, MAX),
        ("application/cloudevents-batch+json", orjson.dumps([EVENT]), False, 1),
    ],
)
def test_accepted_content_types(content_type: str, body: bytes, single: bool, count: int) -> None:
    items, was_single = _events_from(content_type, body, MAX)
    assert was_single is single
    assert len(items) == count
    assert items[0] == EVENT


def test_a_json_scalar_is_passed_on_as_one_item_for_validation_to_reject() -> None:
    items, single = _events_from("application/json", b"42", MAX)
    assert (items, single) == ([42], True)


@pytest.mark.parametrize(
    "content_type",
    ["", "text/plain", "application/xml", "application/cloudevents", "multipart/form-data"],
)
def test_other_content_types_are_415(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        _events_from(content_type, ONE, MAX)
    assert caught.value.status_code == 415
    assert "application/cloudevents+json" in caught.value.detail


def test_missing_content_type_is_named_missing() -> None:
    with pytest.raises(UnsupportedMediaType, match="missing"):
        _events_from("", ONE, MAX)


def test_content_type_is_checked_before_the_body_is_parsed() -> None:
    with pytest.raises(UnsupportedMediaType):
        _events_from("text/plain", b"{not json", MAX)


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        ("application/json", b"{not json", "not valid JSON"),
        ("application/cloudevents+json", b"", "not valid JSON"),
        ("application/cloudevents-batch+json", b"[1,", "not valid JSON"),
        ("application/cloudevents-batch+json", ONE, "JSON array"),
        ("application/cloudevents-batch+json", b'"x"', "JSON array"),
        ("application/cloudevents+json", TWO, "one event object"),
        ("application/cloudevents+json", b"[]", "one event object"),
        ("application/cloudevents-batch+json", b"[]", "at least one event"),
        ("application/json", b"[]", "at least one event"),
    ],
)
def test_malformed_bodies_are_400(content_type: str, body: bytes, says: str) -> None:
    with pytest.raises(MalformedJson, match=says) as caught:
        _events_from(content_type, body, MAX)
    assert caught.value.status_code == 400
    assert caught.value.code == "malformed_json"


@pytest.mark.parametrize("content_type", ["application/cloudevents-batch+json", "application/json"])
def test_too_many_events_is_413(content_type: str) -> None:
    with pytest.raises(PayloadTooLarge, match=f"at most {MAX} events") as caught:
        _events_from(content_type, orjson.dumps([EVENT] * (MAX + 1)), MAX)
    assert caught.value.status_code == 413


def test_validate_splits_valid_from_rejected_in_request_order() -> None:
    bad = usage_reported("e-bad", "c-1")
    del bad["data"]["metric"]
    items: list[Any] = [
        subscription_created("e-0", "c-0"),
        bad,
        "not an object",
        milestone_completed("e-3", "c-3"),
        {"id": 7, "source": ["x"], "type": "nope"},
    ]

    valid, rejected = validate(items)

    assert [(v.index, v.event.id) for v in valid] == [(0, "e-0"), (3, "e-3")]
    assert [r.index for r in rejected] == [1, 2, 4]
    assert all(r.status is EventStatus.REJECTED for r in rejected)
    missing, not_object, unknown = rejected
    assert (missing.id, missing.source) == ("e-bad", "https://product.example.com")
    assert [e["loc"] for e in missing.errors] == [["data", "metric"]]
    assert missing.errors[0]["type"] == "missing"
    assert (not_object.id, not_object.source) == (None, None)
    assert not_object.errors == [
        {"loc": [], "msg": "each event must be a JSON object", "type": "object_type"}
    ]
    assert (unknown.id, unknown.source) == (None, None), "non-string id/source are not echoed"
    assert [e["loc"] for e in unknown.errors] == [["type"]]


def test_validate_keeps_duplicates_for_the_use_case_to_report() -> None:
    valid, rejected = validate([EVENT, EVENT])
    assert rejected == []
    assert [v.event.dedupe_key() for v in valid] == [("https://product.example.com", "e-1")] * 2


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda e: e.pop("time"), ["time"]),
        (lambda e: e.update(time="2026-03-05T00:00:00"), ["time"]),
        (lambda e: e["data"].update(value=-3), ["data", "value"]),
        (lambda e: e["data"].update(extra_field=1), ["data", "extra_field"]),
        (lambda e: e.update(type="usage.reportd"), ["type"]),
    ],
)
def test_validate_names_the_field_path(change: Any, loc: list[str]) -> None:
    event = usage_reported("e-x", "c-x")
    change(event)
    valid, [rejected] = validate([event])
    assert valid == []
    assert [e["loc"] for e in rejected.errors] == [loc]


def test_validate_of_nothing_is_nothing() -> None:
    assert validate([]) == ([], [])


def test_a_rejection_is_logged_with_its_first_problem(caplog: pytest.LogCaptureFixture) -> None:
    bad = {"specversion": "1.0", "type": "usage.reported"}
    with caplog.at_level("WARNING", logger="fourfold.ingest.intake"):
        validate([bad])
    [record] = [r for r in caplog.records if r.getMessage() == "rejected events"]
    assert record.rejected == 1  # type: ignore[attr-defined]
    assert "id: Field required" in record.first_problem  # type: ignore[attr-defined]


@pytest.mark.parametrize("item", [EVENT, subscription_created("s-1", "c-1"), [EVENT], "text", None])
def test_one_event_validates_as_the_first_of_a_batch_does(item: Any) -> None:
    """A lone event takes the single-event adapter: same result as in a batch of two."""
    single_valid, single_rejected = validate([item])
    batch_valid, batch_rejected = validate([item, EVENT])
    assert [(v.index, v.event, v.raw, v.key) for v in single_valid] == [
        (v.index, v.event, v.raw, v.key) for v in batch_valid if v.index == 0
    ]
    assert single_rejected == [r for r in batch_rejected if r.index == 0]
