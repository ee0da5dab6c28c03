"""`nudge.raised` names its rule, severity, the facts that fired it and the next step; the
facts and the next step are optional, so a v1 event from before them still validates."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fourfold.events import NudgeRaised, parse_event
from fourfold.events.bounds import MAX_MEASURE
from fourfold.events.derived import MAX_FACTS, MAX_LISTED


def raised(**data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "ndg_1",
        "source": "fourfold/notifications",
        "type": "nudge.raised",
        "time": "2026-06-01T12:00:00Z",
        "data": {
            "nudge_id": "ndg_1",
            "partner_id": "p-1",
            "customer_id": "c-1",
            "rule": "implement_stalled",
            "severity": "warning",
            "title": "Onboarding has stalled",
            "message": "Book a working session",
            "raised_at": "2026-06-01T12:00:00Z",
            **data,
        },
    }


def test_a_v1_event_without_facts_or_next_step_still_parses() -> None:
    event = parse_event(raised())
    assert isinstance(event, NudgeRaised)
    assert (event.data.facts, event.data.next_step) == (None, None)


def test_facts_and_next_step_survive_the_wire() -> None:
    facts = {
        "days_since_start": 21,
        "activation": 0.1,
        "missing_milestones": ["users_trained"],
        "term_end": "2026-09-01",
        "score": None,
        "renewed": False,
    }
    event = parse_event(raised(facts=facts, next_step="Book a working session"))
    again = parse_event(event.to_json_bytes())
    assert again == event
    assert again.data.facts == facts  # type: ignore[attr-defined]
    assert type(again.data.facts["days_since_start"]) is int  # type: ignore[attr-defined]
    assert type(again.data.facts["renewed"]) is bool  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("facts", "where"),
    [
        ({f"f{i}": 1 for i in range(MAX_FACTS + 1)}, ["facts"]),
        ({"invoices": [f"in_{i}" for i in range(MAX_LISTED + 1)]}, ["facts", "invoices"]),
        ({"count": int(MAX_MEASURE) * 10}, ["facts", "count"]),  # beyond every number type
        ({"ratio": float("inf")}, ["facts", "ratio"]),
        ({"": 1}, ["facts"]),
        ({"band": "x" * 501}, ["facts", "band"]),
    ],
)
def test_facts_are_bounded(facts: dict[str, Any], where: list[str]) -> None:
    with pytest.raises(ValidationError) as raised_error:
        NudgeRaised.model_validate(raised(facts=facts))
    locs = [list(map(str, e["loc"])) for e in raised_error.value.errors()]
    assert any(loc[1 : 1 + len(where)] == where for loc in locs), locs
