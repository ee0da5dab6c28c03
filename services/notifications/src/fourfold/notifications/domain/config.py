"""The rule configuration: thresholds, severities, next-step templates and delivery policy.

A configuration is YAML validated into frozen pydantic models; every mistake is reported
with the dotted path of the field. The documented default ships in the package
(`rules.default.yaml`); `FOURFOLD_NOTIFICATIONS_RULES_PATH` names another file.
"""

from __future__ import annotations

from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fourfold.events.derived import Band

DEFAULT_RULES_RESOURCE = "rules.default.yaml"

Severity = Literal["info", "warning", "critical"]
Days = Annotated[int, Field(ge=1, le=3650)]
Fraction = Annotated[float, Field(gt=0, le=1)]


class RuleName(StrEnum):
    IMPLEMENT_STALLED = "implement_stalled"
    INCREASE_OPPORTUNITY = "increase_opportunity"
    RENEWAL_AT_RISK = "renewal_at_risk"
    HEALTH_DROP = "health_drop"
    PAYMENT_FAILED = "payment_failed"


class ConfigError(ValueError):
    """A configuration that does not validate; `errors` holds `{"loc", "msg", "type"}` items."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        lines = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in errors)
        super().__init__(f"invalid rule configuration: {lines}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RuleText(_Model):
    """What every rule shares: on or off, how loud, and the two templates a nudge shows."""

    enabled: bool = True
    severity: Severity = "warning"
    title: str = Field(min_length=1, max_length=2000)
    next_step: str = Field(min_length=1, max_length=4000)


class ImplementStalled(RuleText):
    min_age_days: Days = 21
    activation_below: Fraction = 0.30
    core_milestones: tuple[str, ...] = ("users_trained", "first_value")


class IncreaseOpportunity(RuleText):
    severity: Severity = "info"
    utilisation_at_least: Fraction = 0.90
    for_days: Days = 14
    no_expansion_days: Days = 90


class RenewalAtRisk(RuleText):
    within_days: Days = 90
    bands: tuple[Band, ...] = (Band.RED, Band.YELLOW)


class HealthDrop(RuleText):
    points: Annotated[int, Field(ge=1, le=100)] = 15
    within_days: Days = 14


class PaymentFailed(RuleText):
    severity: Severity = "critical"


class Rules(_Model):
    implement_stalled: ImplementStalled
    increase_opportunity: IncreaseOpportunity
    renewal_at_risk: RenewalAtRisk
    health_drop: HealthDrop
    payment_failed: PaymentFailed

    def text(self, rule: RuleName) -> RuleText:
        text: RuleText = getattr(self, rule.value)
        return text


class Retry(_Model):
    """Delays before attempt 2, 3, …: immediately, seconds, minutes, then hours."""

    delays_s: tuple[Annotated[float, Field(ge=0, le=7 * 86400)], ...] = (
        0,
        5,
        30,
        300,
        1800,
        7200,
        21600,
    )
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.2
    max_retry_after_s: Annotated[float, Field(ge=0, le=7 * 86400)] = 86400


class Delivery(_Model):
    throttle_per_day: Annotated[int, Field(ge=0, le=100_000)] = 20
    """Immediate deliveries per partner per UTC day; the rest wait for the digest."""
    digest_hour_utc: Annotated[int, Field(ge=0, le=23)] = 8
    retry: Retry = Retry()


class RuleConfig(_Model):
    version: str = Field(min_length=1, max_length=128)
    rules: Rules
    delivery: Delivery = Delivery()

    @model_validator(mode="after")
    def _milestones_known(self) -> RuleConfig:
        from fourfold.events.activity import Milestone  # the contract's vocabulary

        known = {m.value for m in Milestone}
        unknown = [m for m in self.rules.implement_stalled.core_milestones if m not in known]
        if unknown:
            raise ValueError(
                f"rules.implement_stalled.core_milestones: unknown {unknown}; "
                f"expected some of {sorted(known)}"
            )
        return self


def parse_config(text: str) -> RuleConfig:
    """Validate a YAML configuration, raising ConfigError that names each bad field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([{"loc": [], "msg": f"not valid YAML: {exc}", "type": "yaml"}]) from None
    if not isinstance(data, dict):
        raise ConfigError([{"loc": [], "msg": "expected a mapping", "type": "type"}])
    try:
        return RuleConfig.model_validate(data)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise ConfigError(errors) from None


def load_config(path: Path) -> RuleConfig:
    """Read and validate a configuration file (done once, at start)."""
    return parse_config(path.read_text(encoding="utf-8"))


def default_config_text() -> str:
    source = resources.files("fourfold.notifications").joinpath(DEFAULT_RULES_RESOURCE)
    return source.read_text(encoding="utf-8")


def default_config() -> RuleConfig:
    """The documented default configuration shipped with the service."""
    return parse_config(default_config_text())
