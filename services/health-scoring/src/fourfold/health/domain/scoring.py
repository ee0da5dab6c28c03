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
from fourfold.health.domain.signals import CustomerSignals, evolve, require_aware
from fourfold.health.domain.trend import Trend, trend

HUNDRED = Decimal(100)
ZERO, ONE = Decimal(0), Decimal(1)
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
    activated: bool | None = None
    """Whether the customer counted as activated for its step (None: its subscription has not
    started, so the step did not ask): the `health.changed` snapshot reuses it."""


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
    total = weighted = ZERO
    for r in readings:
        if r.score is not None:
            weight = weights[r.name]
            total += weight
            weighted += weight * r.score
    raw = None if total == 0 else weighted * HUNDRED / total
    explained = tuple([_explain(r, weights[r.name], total) for r in readings])
    final = None if raw is None else int(raw.quantize(ONE, rounding=ROUND_HALF_UP))
    return WeightedScore(final, explained)


def _explain(reading: ComponentReading, weight: Decimal, total: Decimal) -> ComponentExplanation:
    value = reading.score
    if value is None or total == 0:
        # what the arithmetic below gives for a share of zero, without it
        return evolve(
            _UNAVAILABLE,
            name=reading.name,
            available=value is not None,
            inputs=reading.inputs,
            score=None if value is None else value.quantize(SHARE, ROUND_HALF_UP),
            weight=weight,
        )
    share = weight / total
    return evolve(
        _UNAVAILABLE,
        name=reading.name,
        available=True,
        inputs=reading.inputs,
        score=value.quantize(SHARE, ROUND_HALF_UP),
        weight=weight,
        effective_weight=share.quantize(SHARE, ROUND_HALF_UP),
        contribution=(share * value * HUNDRED).quantize(POINTS, ROUND_HALF_UP),
    )


_UNAVAILABLE = ComponentExplanation(
    name=ComponentName.ADOPTION,
    available=False,
    inputs={},
    score=None,
    weight=ZERO,
    effective_weight=ZERO.quantize(SHARE, ROUND_HALF_UP),
    contribution=ZERO.quantize(POINTS, ROUND_HALF_UP),
)
"""The template `_explain` copies (`evolve` skips the frozen constructor, a `setattr` per
field): a component without a share contributes zero points."""


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
        activated=decision.activated,
    )
