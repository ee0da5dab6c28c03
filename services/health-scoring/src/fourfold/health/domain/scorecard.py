"""The scorecard: components, weights per lifecycle step, bands and step rules, as configuration.

A scorecard is YAML validated into frozen pydantic models. Leaving a component out of
`components` removes it; every mistake is reported with the dotted path of the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fourfold.events.derived import Band as Band  # one vocabulary with the contracts
from fourfold.events.derived import LifecycleStep as LifecycleStep
from fourfold.health.domain.signals import Milestone

DEFAULT_SCORECARD_RESOURCE = "scorecard.default.yaml"


class ComponentName(StrEnum):
    ADOPTION = "adoption"
    ENGAGEMENT = "engagement"
    BREADTH = "breadth"
    IMPLEMENTATION = "implementation"
    PAYMENT = "payment"
    SENTIMENT = "sentiment"


class ScorecardError(ValueError):
    """A scorecard that does not validate; `errors` holds `{"loc", "msg", "type"}` items."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        lines = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in errors)
        super().__init__(f"invalid scorecard: {lines}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy without the values cached from this one (`cached_property`s live in the
        instance's `__dict__`, which pydantic copies): a copy with other fields must not
        answer with the original's derived maps."""
        copied = super().model_copy(update=update, deep=deep)
        for name in _cached_names(type(self)):
            copied.__dict__.pop(name, None)
        return copied


def _cached_names(model: type[BaseModel]) -> list[str]:
    return [
        name
        for klass in model.__mro__
        for name, value in vars(klass).items()
        if isinstance(value, cached_property)
    ]


Fraction = Annotated[Decimal, Field(gt=0, le=1)]
Weight = Annotated[Decimal, Field(ge=0)]
Days = Annotated[int, Field(ge=0)]


class ComponentConfig(_Model):
    weight: Weight
    weights_by_step: dict[LifecycleStep, Weight] = Field(default_factory=dict)

    def weight_for(self, step: LifecycleStep) -> Decimal:
        """The step's own weight if configured, else the default weight."""
        return self.weights_by_step.get(step, self.weight)


class RatioConfig(ComponentConfig):
    full_at: Fraction = Decimal(1)
    """The ratio that already earns the full score (0.8 = 80% of seats in use is healthy)."""


class EngagementConfig(ComponentConfig):
    window_days: int = Field(default=30, ge=1, le=180)
    full_at: Decimal = Field(default=Decimal(1), gt=0)
    """Recent/prior activity ratio that earns the full score (1 = holding steady)."""
    zero_at: Decimal = Field(default=Decimal("0.5"), ge=0)
    """Ratio at or below which engagement scores zero; linear in between."""

    @model_validator(mode="after")
    def _zero_below_full(self) -> EngagementConfig:
        if self.zero_at >= self.full_at:
            raise ValueError("zero_at must be below full_at")
        return self


class ImplementationConfig(ComponentConfig):
    expected_by_day: dict[Milestone, Days] = Field(min_length=1)
    """Customer age in days by which each milestone is expected."""


class PaymentConfig(ComponentConfig):
    penalty_per_failed_invoice: Decimal = Field(default=Decimal("0.25"), ge=0, le=1)
    past_due_cap: Decimal = Field(default=Decimal("0.3"), ge=0, le=1)
    """Highest payment score while an invoice is past due."""


class SentimentConfig(ComponentConfig):
    max_age_days: int = Field(default=180, ge=1)
    """Older answers no longer count: the component becomes not available."""


class Components(_Model):
    adoption: RatioConfig | None = None
    engagement: EngagementConfig | None = None
    breadth: RatioConfig | None = None
    implementation: ImplementationConfig | None = None
    payment: PaymentConfig | None = None
    sentiment: SentimentConfig | None = None

    @cached_property
    def configured(self) -> Mapping[ComponentName, ComponentConfig]:
        """The components present in this scorecard, in declaration order (computed once:
        every evaluation reads it)."""
        found = {name: getattr(self, name.value) for name in ComponentName}
        return {name: c for name, c in found.items() if c is not None}


class Bands(_Model):
    red_below: int = Field(ge=0, le=100)
    green_from: int = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if self.red_below > self.green_from:
            raise ValueError("red_below must not exceed green_from")
        return self

    def band_for(self, score: int | None) -> Band:
        """Red below `red_below`, green from `green_from`, yellow between, unknown without score."""
        if score is None:
            return Band.UNKNOWN
        if score < self.red_below:
            return Band.RED
        return Band.GREEN if score >= self.green_from else Band.YELLOW


class LifecycleRules(_Model):
    core_milestones: frozenset[Milestone] = frozenset(
        {Milestone.KICKOFF, Milestone.CONFIGURED, Milestone.FIRST_VALUE}
    )
    activation_utilisation: Fraction = Decimal("0.5")
    """Seats in use / seats bought that counts as activated (leaving Implement)."""
    increase_utilisation: Fraction = Decimal("0.9")
    """Utilisation that signals room to expand (entering Increase)."""
    recent_expansion_days: Days = 90
    renewal_window_days: Days = 90


class Scorecard(_Model):
    version: str = Field(min_length=1)
    bands: Bands
    components: Components
    lifecycle: LifecycleRules

    @model_validator(mode="after")
    def _every_step_has_weight(self) -> Scorecard:
        configured = self.components.configured
        if not configured:
            raise ValueError("components: configure at least one component")
        for step in LifecycleStep:
            if sum((c.weight_for(step) for c in configured.values()), Decimal(0)) <= 0:
                raise ValueError(f"components: weights for step {step.value} sum to zero")
        return self

    @cached_property
    def weights(self) -> Mapping[LifecycleStep, Mapping[ComponentName, Decimal]]:
        """Each step's weight per configured component, resolved once. (Plain dicts typed
        read-only: a `MappingProxyType` here would make the scorecard impossible to deep-copy
        or pickle.)"""
        configured = self.components.configured
        return {
            step: {n: c.weight_for(step) for n, c in configured.items()} for step in LifecycleStep
        }


def parse_scorecard(text: str) -> Scorecard:
    """Validate a YAML scorecard, raising ScorecardError that names each bad field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScorecardError(
            [{"loc": [], "msg": f"not valid YAML: {exc}", "type": "yaml"}]
        ) from None
    if not isinstance(data, dict):
        raise ScorecardError([{"loc": [], "msg": "expected a mapping", "type": "type"}])
    try:
        return Scorecard.model_validate(data)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise ScorecardError(errors) from None


def load_scorecard(path: Path) -> Scorecard:
    """Read and validate a scorecard file (the domain's only I/O, done once at start-up)."""
    return parse_scorecard(path.read_text(encoding="utf-8"))


def default_scorecard() -> Scorecard:
    """The documented default scorecard shipped with the service."""
    source = resources.files("fourfold.health").joinpath(DEFAULT_SCORECARD_RESOURCE)
    return parse_scorecard(source.read_text(encoding="utf-8"))
