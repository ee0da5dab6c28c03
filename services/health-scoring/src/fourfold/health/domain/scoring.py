"""The health score: a weighted mean of the available components, as an integer 0..100.

Weights come from the customer's lifecycle step. Components that are not available drop out
and the remaining weights are rescaled to sum to one, so missing data never counts as zero.
The raw mean is rounded half-up to an integer; with nothing available the score is None and
the band "unknown".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from fourfold.health.domain.components import (
    ComponentReading,
    InputValue,
    read_components,
)
from fourfold.health.domain.lifecycle import lifecycle_step
from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import Band, ComponentName, LifecycleStep, Scorecard
from fourfold.health.domain.signals import CustomerSignals, require_aware
from fourfold.health.domain.trend import Trend, trend

HUNDRED = Decimal(100)
SHARE = Decimal("0.0001")
POINTS = Decimal("0.01")


@dataclass(frozen=True)
class ComponentExplanation:
    name: ComponentName
    available: bool
    inputs: Mapping[str, InputValue]
    score: Decimal | None
    """Normalised 0..1 (4 decimals); None when not available."""
    weight: Decimal
    """Configured weight for the customer's step."""
    effective_weight: Decimal
    """Share of the total after redistribution (0..1, 4 decimals); 0 when not available."""
    contribution: Decimal
    """Points this component adds to the 0..100 score (2 decimals)."""


@dataclass(frozen=True)
class HealthResult:
    customer_id: str
    partner_id: str
    as_of: datetime
    scorecard_version: str
    score: int | None
    """The score to show and publish: the override's if one is active, else the computed."""
    band: Band
    step: LifecycleStep
    step_reasons: tuple[str, ...]
    components: tuple[ComponentExplanation, ...]
    computed_score: int | None
    computed_band: Band
    trend: Trend
    """Change of the computed score against history (overrides do not move the trend)."""
    override: ManualOverride | None = None
    """The override in force at `as_of`, if any."""


@dataclass(frozen=True)
class WeightedScore:
    score: int | None
    components: tuple[ComponentExplanation, ...]


def weigh(
    readings: Iterable[ComponentReading], scorecard: Scorecard, step: LifecycleStep
) -> WeightedScore:
    """Combine component readings with the step's weights, redistributing unavailable ones."""
    readings = tuple(readings)
    weights = scorecard.weights[step]
    total = sum((weights[r.name] for r in readings if r.score is not None), Decimal(0))
    weighted = sum((weights[r.name] * r.score for r in readings if r.score is not None), Decimal(0))
    raw = None if total == 0 else weighted * HUNDRED / total
    explained = tuple(_explain(r, weights[r.name], total) for r in readings)
    final = None if raw is None else int(raw.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return WeightedScore(final, explained)


def _explain(reading: ComponentReading, weight: Decimal, total: Decimal) -> ComponentExplanation:
    share = Decimal(0) if reading.score is None or total == 0 else weight / total
    return ComponentExplanation(
        name=reading.name,
        available=reading.available,
        inputs=reading.inputs,
        score=None if reading.score is None else reading.score.quantize(SHARE, ROUND_HALF_UP),
        weight=weight,
        effective_weight=share.quantize(SHARE, ROUND_HALF_UP),
        contribution=(share * (reading.score or 0) * HUNDRED).quantize(POINTS, ROUND_HALF_UP),
    )


def score(
    signals: CustomerSignals,
    scorecard: Scorecard,
    as_of: datetime,
    history: Iterable[tuple[datetime, int | None]] = (),
    override: ManualOverride | None = None,
) -> HealthResult:
    """Score a customer at `as_of`: a pure function of signals, scorecard and time, so a
    scheduled recompute and an event-driven one agree."""
    require_aware(as_of, "as_of")
    decision = lifecycle_step(signals, scorecard.lifecycle, as_of)
    weighted = weigh(read_components(signals, scorecard, as_of), scorecard, decision.step)
    computed_band = scorecard.bands.band_for(weighted.score)
    active = override if override is not None and override.is_active(as_of) else None
    shown_score, shown_band = weighted.score, computed_band
    if active is not None:
        shown_score = active.score if active.score is not None else weighted.score
        shown_band = active.band or scorecard.bands.band_for(shown_score)
    return HealthResult(
        customer_id=signals.customer_id,
        partner_id=signals.partner_id,
        as_of=as_of,
        scorecard_version=scorecard.version,
        score=shown_score,
        band=shown_band,
        step=decision.step,
        step_reasons=decision.reasons,
        components=weighted.components,
        computed_score=weighted.score,
        computed_band=computed_band,
        trend=trend(history, weighted.score, as_of),
        override=active,
    )
