"""Weighting, redistribution, bands, explanation, override and the unknown result."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fourfold.health.domain.components import ComponentReading
from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import (
    Band,
    ComponentName,
    LifecycleStep,
    Scorecard,
    default_scorecard,
    parse_scorecard,
)
from fourfold.health.domain.scoring import score, weigh
from fourfold.health.domain.signals import CustomerSignals, PaymentState, Sentiment, SentimentKind
from fourfold.health.domain.trend import Trend

AS_OF = datetime(2025, 6, 30, 12, tzinfo=UTC)
A, E, B = ComponentName.ADOPTION, ComponentName.ENGAGEMENT, ComponentName.BREADTH
THREE = parse_scorecard(
    """
version: three-v1
bands: {red_below: 40, green_from: 70}
components:
  adoption: {weight: 2, weights_by_step: {increase: 1}}
  engagement: {weight: 1}
  breadth: {weight: 1, weights_by_step: {increase: 0}}
lifecycle: {}
"""
)


def read(**scores: str | None) -> tuple[ComponentReading, ...]:
    return tuple(
        ComponentReading(ComponentName(name), None if s is None else Decimal(s))
        for name, s in scores.items()
    )


@pytest.mark.parametrize(
    ("readings", "step", "expected"),
    [
        (read(adoption="1", engagement="1", breadth="1"), LifecycleStep.IMPROVE, 100),
        (read(adoption="0", engagement="0", breadth="0"), LifecycleStep.IMPROVE, 0),
        (read(adoption="1", engagement="0", breadth="0"), LifecycleStep.IMPROVE, 50),
        (read(adoption="0.5", engagement="1", breadth="0"), LifecycleStep.IMPROVE, 50),
        (read(adoption="1", engagement="0", breadth="1"), LifecycleStep.IMPROVE, 75),
        # per-step weights: increase uses adoption 1, engagement 1, breadth 0
        (read(adoption="1", engagement="0", breadth="1"), LifecycleStep.INCREASE, 50),
        # redistribution: a missing component is dropped, not zero
        (read(adoption="1", engagement=None, breadth="0"), LifecycleStep.IMPROVE, 67),
        (read(adoption=None, engagement="0.8", breadth=None), LifecycleStep.IMPROVE, 80),
        (read(adoption=None, engagement=None, breadth=None), LifecycleStep.IMPROVE, None),
        # only a zero-weight component available: nothing to weigh
        (read(adoption=None, engagement=None, breadth="1"), LifecycleStep.INCREASE, None),
        # rounding is half-up: 2*0.5 + 0.01 / 4 -> 25.25 -> 25; 0.505*... -> 50.5 -> 51
        (read(adoption="0.5", engagement="0.01", breadth="0"), LifecycleStep.IMPROVE, 25),
        (read(adoption="0.505", engagement="0.505", breadth="0.505"), LifecycleStep.IMPROVE, 51),
    ],
)
def test_weighted_mean_with_redistribution(
    readings: tuple[ComponentReading, ...], step: LifecycleStep, expected: int | None
) -> None:
    assert weigh(readings, THREE, step).score == expected


def test_explanation_shows_weights_shares_and_contributions() -> None:
    explained = weigh(
        read(adoption="1", engagement=None, breadth="0.5"), THREE, LifecycleStep.IMPROVE
    )
    rows = {c.name: c for c in explained.components}
    assert explained.score == 83
    assert (rows[A].weight, rows[A].effective_weight, rows[A].contribution) == (
        Decimal(2),
        Decimal("0.6667"),
        Decimal("66.67"),
    )
    assert not rows[E].available
    assert (rows[E].score, rows[E].weight, rows[E].effective_weight) == (
        None,
        Decimal(1),
        Decimal(0),
    )
    assert rows[B].contribution == Decimal("16.67")
    assert sum(c.effective_weight for c in explained.components) == Decimal("1.0000")


HEALTHY = CustomerSignals(
    customer_id="c1",
    partner_id="p1",
    subscription_start=AS_OF - timedelta(days=100),
    seats_bought=10,
    seats_in_use=6,
    active_users=tuple((AS_OF.date() - timedelta(days=n), 5) for n in range(60)),
    features_used=frozenset("abcdef"),
    features_available=10,
    payment=PaymentState(0, False, AS_OF),
    sentiment=Sentiment(SentimentKind.NPS, 60, AS_OF - timedelta(days=5)),
)


def test_score_records_version_step_band_and_every_component() -> None:
    card = default_scorecard()
    result = score(HEALTHY, card, AS_OF)
    assert result.scorecard_version == card.version
    assert (result.customer_id, result.partner_id, result.as_of) == ("c1", "p1", AS_OF)
    assert result.step is LifecycleStep.IMPLEMENT  # core milestones missing
    assert [c.name for c in result.components] == list(ComponentName)
    assert result.score == result.computed_score
    assert result.band is card.bands.band_for(result.score)
    assert result.override is None


def test_nothing_known_gives_unknown_not_a_crash() -> None:
    result = score(CustomerSignals("c9", "p1"), default_scorecard(), AS_OF)
    assert (result.score, result.band, result.step) == (None, Band.UNKNOWN, LifecycleStep.INVOLVE)
    assert result.trend == Trend(None, None)
    assert not any(c.available for c in result.components)


def test_trend_compares_with_the_score_in_force_7_and_30_days_ago() -> None:
    history = [(AS_OF - timedelta(days=31), 40), (AS_OF - timedelta(days=8), 90)]
    result = score(HEALTHY, default_scorecard(), AS_OF, history=history)
    assert result.computed_score is not None
    assert result.trend == Trend(result.computed_score - 90, result.computed_score - 40)


def override(**changes: Any) -> ManualOverride:
    base = ManualOverride(
        reason="exec sponsor left",
        set_at=AS_OF - timedelta(days=1),
        expires_at=AS_OF + timedelta(days=7),
        score=20,
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("manual", "shown_score", "shown_band", "applies"),
    [
        (override(), 20, Band.RED, True),
        (override(score=None, band=Band.YELLOW), "computed", Band.YELLOW, True),
        (override(score=95, band=Band.YELLOW), 95, Band.YELLOW, True),
        (override(expires_at=AS_OF), "computed", "computed", False),  # expired exactly now
        (
            override(set_at=AS_OF + timedelta(hours=1), expires_at=AS_OF + timedelta(days=2)),
            "computed",
            "computed",
            False,
        ),
    ],
)
def test_override_applies_until_it_expires_and_stays_visible(
    manual: ManualOverride, shown_score: object, shown_band: object, applies: bool
) -> None:
    card: Scorecard = default_scorecard()
    result = score(HEALTHY, card, AS_OF, override=manual)
    plain = score(HEALTHY, card, AS_OF)
    assert result.score == (plain.score if shown_score == "computed" else shown_score)
    assert result.band == (plain.band if shown_band == "computed" else shown_band)
    assert (result.computed_score, result.computed_band) == (plain.score, plain.band)
    assert result.override == (manual if applies else None)
    assert result.trend == plain.trend


def test_override_band_applies_even_when_nothing_is_known() -> None:
    manual = override(score=None, band=Band.GREEN)
    result = score(CustomerSignals("c9", "p1"), default_scorecard(), AS_OF, override=manual)
    assert (result.score, result.band, result.computed_band) == (None, Band.GREEN, Band.UNKNOWN)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reason": " "}, "reason"),
        ({"score": None, "band": None}, "score, a band"),
        ({"score": 101}, "0..100"),
        ({"band": Band.UNKNOWN}, "unknown"),
        ({"expires_at": AS_OF - timedelta(days=2)}, "expire after"),
    ],
)
def test_invalid_overrides_are_rejected(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        override(**changes)


def test_naive_as_of_is_rejected() -> None:
    with pytest.raises(ValueError, match="as_of"):
        score(HEALTHY, default_scorecard(), datetime(2025, 1, 1))  # noqa: DTZ001
