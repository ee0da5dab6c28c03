"""Event contracts v1: every input type parses, and every bad input names its field path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from fourfold.events import Envelope, Money
from fourfold.events.problems import field_problems
from fourfold.events.registry import (
    ALL_EVENT_TYPES,
    ALL_TOPICS,
    INPUT_EVENT_TYPES,
    parse_event,
    parse_input_event,
)
from fourfold.testing.samples import milestone_completed, subscription_created, usage_reported

Raw = dict[str, Any]
AT = "2026-03-10T08:00:00Z"
REF = {"subscription_id": "sub-c-1", "customer_id": "c-1", "partner_id": "p-1"}


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def envelope(event_type: str, data: dict[str, Any], **attributes: Any) -> Raw:
    return {
        "specversion": "1.0",
        "id": f"evt-{event_type}",
        "source": "https://vendor.example.com",
        "type": event_type,
        "time": AT,
        "data": data,
        **attributes,
    }


# One valid raw event per input type: the three samples plus the ones built here.
VALID: dict[str, Raw] = {
    "subscription.created": subscription_created("e-created", "c-1"),
    "usage.reported": usage_reported("e-usage", "c-1"),
    "milestone.completed": milestone_completed("e-milestone", "c-1"),
    "subscription.renewed": envelope(
        "subscription.renewed",
        {
            **REF,
            "plan": "pro",
            "seats": 30,
            "mrr": eur("1500.00"),
            "term_start": "2027-03-01",
            "term_end": "2028-02-29",
        },
    ),
    "subscription.expanded": envelope(
        "subscription.expanded",
        {
            **REF,
            "previous_plan": "pro",
            "plan": "enterprise",
            "previous_seats": 25,
            "seats": 40,
            "previous_mrr": eur("1250.00"),
            "mrr": eur("2400.00"),
        },
    ),
    "subscription.addon_added": envelope(
        "subscription.addon_added",
        {**REF, "addon": "analytics", "addon_mrr": eur("200.00"), "mrr": eur("1450.00")},
    ),
    "subscription.contracted": envelope(
        "subscription.contracted",
        {
            **REF,
            "previous_plan": "pro",
            "plan": "starter",
            "previous_seats": 25,
            "seats": 0,
            "previous_mrr": eur("1250.00"),
            "mrr": eur("0"),
        },
    ),
    "subscription.cancelled": envelope(
        "subscription.cancelled", {**REF, "effective_date": "2026-06-30", "reason": "budget"}
    ),
    "invoice.paid": envelope(
        "invoice.paid",
        {
            "invoice_id": "inv-1",
            "subscription_id": "sub-c-1",
            "customer_id": "c-1",
            "amount": eur("1250.00"),
            "paid_at": AT,
        },
    ),
    "invoice.payment_failed": envelope(
        "invoice.payment_failed",
        {
            "invoice_id": "inv-2",
            "subscription_id": "sub-c-1",
            "customer_id": "c-1",
            "amount": eur("1250.00"),
            "attempt": 1,
            "next_retry_at": "2026-03-13T08:00:00+01:00",
        },
    ),
    "partner.certified": envelope(
        "partner.certified",
        {"partner_id": "p-7", "certification": "implementation", "certified_at": AT},
    ),
    "partner.tier_changed": envelope(
        "partner.tier_changed",
        {"partner_id": "p-7", "tier": "gold", "previous_tier": "silver", "effective_at": AT},
    ),
    "feedback.submitted": envelope(
        "feedback.submitted",
        {"customer_id": "c-1", "kind": "nps", "score": 9, "submitted_at": AT},
    ),
    "customer.partner_changed": envelope(
        "customer.partner_changed",
        {
            "customer_id": "c-1",
            "previous_partner_id": "p-1",
            "partner_id": "p-2",
            "effective_at": AT,
        },
    ),
}


def test_every_input_type_has_a_valid_example() -> None:
    assert set(VALID) == set(INPUT_EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(VALID))
def test_valid_event_parses_to_its_model(event_type: str) -> None:
    event = parse_input_event(VALID[event_type])
    assert type(event) is INPUT_EVENT_TYPES[event_type]
    assert event.type == event_type
    assert event.time.tzinfo is not None


@pytest.mark.parametrize("event_type", sorted(VALID))
def test_json_round_trip_is_lossless(event_type: str) -> None:
    event = parse_input_event(VALID[event_type])
    assert parse_input_event(event.to_json_bytes()) == event
    assert parse_event(event.to_json_bytes()) == event


def test_derived_types_are_not_accepted_as_input() -> None:
    raw = envelope("health.changed", {"customer_id": "c-1"})
    with pytest.raises(ValidationError) as caught:
        parse_input_event(raw)
    assert [p["loc"] for p in field_problems(caught.value)] == [["type"]]


def mutated(event_type: str, change: Callable[[Raw], object]) -> Raw:
    raw = copy.deepcopy(VALID[event_type])
    change(raw)
    return raw


def _set(path: str, value: Any) -> Callable[[Raw], None]:
    *parents, leaf = path.split(".")

    def change(raw: Raw) -> None:
        target = raw
        for name in parents:
            target = target[name]
        target[leaf] = value

    return change


def _drop(path: str) -> Callable[[Raw], None]:
    *parents, leaf = path.split(".")

    def change(raw: Raw) -> None:
        target = raw
        for name in parents:
            target = target[name]
        del target[leaf]

    return change


BAD: list[tuple[str, Raw, list[str | int], str]] = [
    ("unknown type", mutated("usage.reported", _set("type", "usage.typo")), ["type"], ""),
    ("missing type", mutated("usage.reported", _drop("type")), ["type"], ""),
    ("missing time", mutated("usage.reported", _drop("time")), ["time"], "missing"),
    (
        "naive time",
        mutated("usage.reported", _set("time", "2026-03-05T00:00:00")),
        ["time"],
        "timezone_aware",
    ),
    ("empty id", mutated("usage.reported", _set("id", "")), ["id"], "string_too_short"),
    ("missing source", mutated("usage.reported", _drop("source")), ["source"], "missing"),
    (
        "wrong specversion",
        mutated("usage.reported", _set("specversion", "0.3")),
        ["specversion"],
        "literal_error",
    ),
    (
        "missing data field",
        mutated("subscription.created", _drop("data.plan")),
        ["data", "plan"],
        "missing",
    ),
    (
        "float currency code",
        mutated("subscription.created", _set("data.mrr.currency", 9.5)),
        ["data", "mrr", "currency"],
        "string_type",
    ),
    (
        "lower-case currency code",
        mutated("subscription.created", _set("data.mrr.currency", "eur")),
        ["data", "mrr", "currency"],
        "string_pattern_mismatch",
    ),
    (
        "amount with more than 4 decimals",
        mutated("invoice.paid", _set("data.amount.amount", "1.00001")),
        ["data", "amount", "amount"],
        "decimal_max_places",
    ),
    (
        "negative usage value",
        mutated("usage.reported", _set("data.value", -1)),
        ["data", "value"],
        "greater_than_equal",
    ),
    (
        "unknown usage metric",
        mutated("usage.reported", _set("data.metric", "logins")),
        ["data", "metric"],
        "string_pattern_mismatch",
    ),
    (
        "period_end before period_start",
        mutated("usage.reported", _set("data.period_end", "2026-03-03T00:00:00Z")),
        ["data"],
        "value_error",
    ),
    (
        "naive data datetime",
        mutated("usage.reported", _set("data.period_start", "2026-03-04T00:00:00")),
        ["data", "period_start"],
        "timezone_aware",
    ),
    (
        "NPS above 10",
        mutated("feedback.submitted", _set("data.score", 11)),
        ["data", "score"],
        "less_than_equal",
    ),
    (
        "NPS below 0",
        mutated("feedback.submitted", _set("data.score", -1)),
        ["data", "score"],
        "greater_than_equal",
    ),
    (
        "CSAT of 0",
        mutated("feedback.submitted", lambda raw: raw["data"].update(kind="csat", score=0)),
        ["data"],
        "value_error",
    ),
    (
        "CSAT above 5",
        mutated("feedback.submitted", lambda raw: raw["data"].update(kind="csat", score=6)),
        ["data"],
        "value_error",
    ),
    (
        "unknown milestone",
        mutated("milestone.completed", _set("data.milestone", "party")),
        ["data", "milestone"],
        "enum",
    ),
    (
        "zero seats",
        mutated("subscription.created", _set("data.seats", 0)),
        ["data", "seats"],
        "greater_than_equal",
    ),
    (
        "extra data field",
        mutated("subscription.created", _set("data.colour", "blue")),
        ["data", "colour"],
        "extra_forbidden",
    ),
    (
        "extra Money field",
        mutated("invoice.paid", _set("data.amount.rate", "1.1")),
        ["data", "amount", "rate"],
        "extra_forbidden",
    ),
]


@pytest.mark.parametrize(
    ("raw", "loc", "error_type"),
    [pytest.param(raw, loc, error_type, id=name) for name, raw, loc, error_type in BAD],
)
def test_bad_input_names_the_field_path(raw: Raw, loc: list[str | int], error_type: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_input_event(raw)
    problems = field_problems(caught.value)
    assert [problem["loc"] for problem in problems] == [loc]
    if error_type:
        assert problems[0]["type"] == error_type


def test_unknown_type_message_lists_the_known_types() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_input_event(mutated("usage.reported", _set("type", "usage.typo")))
    [problem] = field_problems(caught.value)
    assert "usage.reported" in problem["msg"]
    assert "subscription.created" in problem["msg"]


@pytest.mark.parametrize(("kind", "score"), [("nps", 0), ("nps", 10), ("csat", 1), ("csat", 5)])
def test_feedback_scale_bounds_are_inclusive(kind: str, score: int) -> None:
    raw = mutated("feedback.submitted", lambda r: r["data"].update(kind=kind, score=score))
    assert parse_input_event(raw).type == "feedback.submitted"


def test_period_validator_message_names_the_fields() -> None:
    raw = mutated("usage.reported", _set("data.period_end", "2026-03-03T00:00:00Z"))
    with pytest.raises(ValidationError) as caught:
        parse_input_event(raw)
    assert "period_end" in field_problems(caught.value)[0]["msg"]


def test_envelope_extension_attributes_are_kept() -> None:
    raw = mutated("usage.reported", _set("traceparent", "00-abc-def-01"))
    event = parse_input_event(raw)
    assert event.extensions() == {"traceparent": "00-abc-def-01"}
    assert parse_input_event(event.to_json_bytes()).extensions() == event.extensions()


@pytest.mark.parametrize("amount", ["99999999999999.9999", "0.0001", "-12.5000", "1250.00", "10"])
def test_money_keeps_every_digit_through_the_wire(amount: str) -> None:
    raw = mutated("invoice.paid", _set("data.amount.amount", amount))
    event = parse_input_event(raw)
    again = parse_input_event(event.to_json_bytes())
    money = again.data.amount  # type: ignore[attr-defined]
    assert isinstance(money, Money)
    assert money.amount == Decimal(amount)
    assert str(money.amount) == amount
    assert f'"amount":"{amount}"'.encode() in event.to_json_bytes()


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "1e400"])
def test_money_refuses_non_finite_or_oversized_amounts(amount: str) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate({"amount": amount, "currency": "EUR"})


@pytest.mark.parametrize("event_type", sorted(VALID))
def test_partition_key_is_the_customer_or_for_certification_the_partner(
    event_type: str,
) -> None:
    event = parse_input_event(VALID[event_type])
    partner_level = event_type in {"partner.certified", "partner.tier_changed"}
    owner = "partner_id" if partner_level else "customer_id"
    assert event.key == getattr(event.data, owner)
    assert event.key == ("p-7" if partner_level else "c-1")


def test_partner_certified_is_keyed_by_partner() -> None:
    assert parse_input_event(VALID["partner.certified"]).key == "p-7"


@pytest.mark.parametrize("event_type", sorted(ALL_EVENT_TYPES))
def test_every_event_type_has_a_known_topic(event_type: str) -> None:
    model: type[Envelope] = ALL_EVENT_TYPES[event_type]
    assert model.topic in ALL_TOPICS


@pytest.mark.parametrize("amount", [12.5, 0.1, 1e3])
def test_money_refuses_a_json_number_because_it_may_have_lost_digits(amount: float) -> None:
    with pytest.raises(ValidationError) as caught:
        Money.model_validate({"amount": amount, "currency": "EUR"})
    [problem] = field_problems(caught.value)
    assert problem["loc"] == ["amount"]
    assert "decimal string" in problem["msg"]


def test_money_schema_says_amount_is_a_decimal_string() -> None:
    schema = Money.model_json_schema()
    assert schema["properties"]["amount"]["type"] == "string"


def test_unknown_input_type_lists_only_the_types_ingest_accepts() -> None:
    raw = usage_reported("e1", "c1")
    raw["type"] = "health.changed.typo"
    with pytest.raises(ValidationError) as caught:
        parse_input_event(raw)
    [problem] = field_problems(caught.value)
    assert problem["loc"] == ["type"]
    assert "usage.reported" in problem["msg"]
    assert "health.changed" not in problem["msg"], "derived types are not accepted as input"


def test_a_derived_event_with_required_nulls_survives_the_wire() -> None:
    from datetime import UTC, datetime

    from fourfold.events import HealthChanged, HealthChangedData, HealthSignalsSnapshot

    at = datetime(2026, 5, 1, tzinfo=UTC)
    first = HealthChanged(
        id="h-1",
        source="fourfold/health-scoring",
        type="health.changed",
        time=at,
        data=HealthChangedData(
            customer_id="c1",
            partner_id=None,
            score=None,
            previous_score=None,
            band="unknown",
            previous_band=None,
            step="involve",
            previous_step=None,
            scorecard_version="v1",
            scored_at=at,
            signals=HealthSignalsSnapshot(),
        ),
    )
    assert parse_event(first.to_json_bytes()) == first


@pytest.mark.parametrize(
    ("path", "value"),
    [(["id"], "a\x00b"), (["source"], "src\x00"), (["data", "customer_id"], "c\x00")],
)
def test_a_nul_character_is_rejected_naming_the_field(path: list[str], value: str) -> None:
    raw = usage_reported("e1", "c1")
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError) as caught:
        parse_input_event(raw)
    [problem] = field_problems(caught.value)
    assert problem["loc"] == path
