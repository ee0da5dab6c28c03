"""The rule configuration: documented defaults, every mistake named, templates checked at start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fourfold.notifications.domain.config import (
    ConfigError,
    RuleName,
    default_config_text,
    parse_config,
)
from fourfold.notifications.domain.templates import (
    SAMPLE_FACTS,
    SAMPLE_NOW,
    Rendered,
    Templates,
)


def test_the_shipped_defaults_are_the_documented_ones() -> None:
    config = parse_config(default_config_text())
    rules = config.rules
    assert rules.implement_stalled.min_age_days == 21
    assert rules.implement_stalled.activation_below == 0.30
    assert rules.increase_opportunity.utilisation_at_least == 0.90
    assert rules.increase_opportunity.for_days == 14
    assert rules.increase_opportunity.no_expansion_days == 90
    assert rules.renewal_at_risk.within_days == 90
    assert rules.health_drop.points == 15
    assert rules.health_drop.within_days == 14


def _with(old: str, new: str) -> str:
    text = default_config_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "loc"),
    [
        (
            _with("min_age_days: 21", "min_age_days: 0"),
            ["rules", "implement_stalled", "min_age_days"],
        ),
        (
            _with("activation_below: 0.30", "activation_below: 1.5"),
            ["rules", "implement_stalled", "activation_below"],
        ),
        (_with("points: 15", "pointz: 15"), ["rules", "health_drop", "pointz"]),
        (
            _with("bands: [red, yellow]", "bands: [purple]"),
            ["rules", "renewal_at_risk", "bands", 0],
        ),
        (_with("digest_hour_utc: 8", "digest_hour_utc: 24"), ["delivery", "digest_hour_utc"]),
        ("- a list", []),
        ("rules: [", []),
    ],
)
def test_mistakes_name_the_field(text: str, loc: list[object]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert next(e["loc"] for e in caught.value.errors) == loc


def test_an_unknown_milestone_is_refused() -> None:
    with pytest.raises(ConfigError, match="core_milestones"):
        parse_config(
            _with("core_milestones: [users_trained, first_value]", "core_milestones: [golf]")
        )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            'title: "A payment of {{ customer_id }} failed"',
            'title: "A payment of {{ custmer_id }} failed"',
        ),
        (
            'title: "A payment of {{ customer_id }} failed"',
            'title: "A payment of {{ customer_id  failed"',
        ),
        (
            'title: "A payment of {{ customer_id }} failed"',
            'title: "{{ customer_id.__class__.__mro__ }}"',
        ),
    ],
)
def test_a_template_error_is_a_configuration_error_at_start(old: str, new: str) -> None:
    config = parse_config(_with(old, new))
    with pytest.raises(ConfigError) as caught:
        Templates(config)
    assert caught.value.errors[0]["loc"] == ["rules", "payment_failed", "title"]


DEFAULTS = Templates(parse_config(default_config_text()))


def render(rule: RuleName, facts: dict[str, Any], now: datetime, severity: str) -> Rendered:
    """The rule's texts for c-9 of p-9 with the default templates."""
    return DEFAULTS.render(
        rule, customer_id="c-9", partner_id="p-9", facts=facts, severity=severity, now=now
    )


def test_every_default_template_renders_its_facts() -> None:
    for rule in RuleName:
        text = render(rule, SAMPLE_FACTS[rule], SAMPLE_NOW, "info")
        assert text.title
        assert text.next_step
    stalled = render(
        RuleName.IMPLEMENT_STALLED,
        {**SAMPLE_FACTS[RuleName.IMPLEMENT_STALLED], "activation": 0.1},
        SAMPLE_NOW,
        "warning",
    )
    assert "10% of seats are active (target 30%)" in stalled.next_step
    assert "users_trained" in stalled.next_step


def test_day_counts_are_rendered_from_the_facts_dates_at_the_instant_of_rendering() -> None:
    facts = {"started_on": "2026-06-01", "activation": 0.1, "activation_below": 0.3}
    rendered = [
        render(
            RuleName.IMPLEMENT_STALLED,
            {**facts, "missing_milestones": []},
            datetime(2026, 6, 1, tzinfo=UTC) + timedelta(days=days, hours=23),
            "warning",
        ).title
        for days in (21, 41)
    ]
    assert rendered == [
        "Onboarding of c-9 has stalled after 21 days",
        "Onboarding of c-9 has stalled after 41 days",
    ]
    renewal = render(
        RuleName.RENEWAL_AT_RISK,
        {"term_end": "2026-08-21", "band": "red", "score": 30},
        datetime(2026, 8, 20, 12, tzinfo=UTC),
        "critical",
    )  # half a day left: 0 whole days
    assert "The term ends in 0 days" in renewal.next_step


def test_facts_stored_before_they_held_dates_still_render_their_own_counts() -> None:
    old = {"days_since_start": 28, "activation": 0.0, "activation_below": 0.3}
    text = render(
        RuleName.IMPLEMENT_STALLED, {**old, "missing_milestones": []}, SAMPLE_NOW, "warning"
    )
    assert text.title == "Onboarding of c-9 has stalled after 28 days"
    held = {"utilisation": 0.95, "utilisation_at_least": 0.9, "days_at_or_above": 16, "seats": 5}
    text = render(RuleName.INCREASE_OPPORTUNITY, held, SAMPLE_NOW, "info")
    assert "for 16 days" in text.next_step
