"""An incentive program: validated YAML, versioned, in force for events whose event time
falls in its effective range.

`parse_program` checks the document against the schema below and raises `ProgramError`
whose problems name the field (`loc`) and the line of the YAML it came from, e.g.
`rules.renewal.rate (line 14): Input should be less than or equal to 1`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fourfold.events import Band
from fourfold.incentives.domain.money import UnknownCurrency, is_rounded, minor_unit

DEFAULT_PROGRAM_RESOURCE = "program.default.yaml"

Rate = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
Multiplier = Annotated[Decimal, Field(ge=0, le=10, allow_inf_nan=False)]
Days = Annotated[int, Field(ge=1, le=3650)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_amounts(amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    for currency, amount in amounts.items():
        try:
            minor_unit(currency)
        except UnknownCurrency as exc:
            raise ValueError(str(exc)) from None
        if amount < 0 or not amount.is_finite():
            raise ValueError(f"{currency}: amount must be a finite number ≥ 0")
        if not is_rounded(amount, currency):
            raise ValueError(f"{currency}: {amount} has more digits than the currency's minor unit")
    return amounts


AmountMap = Annotated[dict[str, Decimal], AfterValidator(_check_amounts)]


class FixedAmounts(_Model):
    """A fixed amount per currency; a customer billed in a currency not listed earns none."""

    amounts: Annotated[AmountMap, Field(min_length=1)]


class NewLogo(_Model):
    """Involve: a share of the first-year ARR of a new subscription."""

    rate: Rate


class ImplementationBonus(_Model):
    """Implement: a fixed amount when `first_value` is reached within `within_days` of the
    subscription's start, a smaller one within twice that."""

    within_days: Days
    amount: FixedAmounts
    late_amount: FixedAmounts | None = None


class Upsell(_Model):
    """Increase (`subscription.expanded`): a share of the ARR added; a contraction within
    `reversal_days` reverses it in proportion."""

    rate: Rate
    reversal_days: Days = 90


class CrossSell(Upsell):
    """Increase (`subscription.addon_added`): a share of the add-on's ARR."""


class Renewal(_Model):
    """Increase: a share of the renewed ARR × the band in force at the renewal's event time."""

    rate: Rate
    band_multipliers: dict[Band, Multiplier] = Field(
        default_factory=lambda: {
            Band.GREEN: Decimal("1.25"),
            Band.YELLOW: Decimal("1.0"),
            Band.RED: Decimal("0.5"),
            Band.UNKNOWN: Decimal("1.0"),
        }
    )

    @field_validator("band_multipliers")
    @classmethod
    def _every_band(cls, value: dict[Band, Decimal]) -> dict[Band, Decimal]:
        missing = [b.value for b in Band if b not in value]
        if missing:
            raise ValueError(f"a multiplier for every band is needed; missing: {missing}")
        return value


class AdoptionBonus(_Model):
    """Improve: a fixed amount once a customer has stayed green for `green_days` in a row
    after onboarding (`first_value`)."""

    green_days: Days
    amount: FixedAmounts


ClawedRule = Literal["new_logo", "implementation_bonus"]
CLAWED_RULES: tuple[ClawedRule, ...] = ("new_logo", "implementation_bonus")


class Clawback(_Model):
    """A cancellation within `within_days` of the start reverses these rules' entries at
    their original amounts (rate and multipliers as they were)."""

    within_days: Days
    rules: list[ClawedRule] = Field(default_factory=lambda: list(CLAWED_RULES))


class Rules(_Model):
    """The rule families; leave one out to switch it off."""

    new_logo: NewLogo | None = None
    implementation_bonus: ImplementationBonus | None = None
    upsell: Upsell | None = None
    cross_sell: CrossSell | None = None
    renewal: Renewal | None = None
    adoption_bonus: AdoptionBonus | None = None
    clawback: Clawback | None = None


class Accelerators(_Model):
    """Multipliers on every earning rule: tier × each held certification, at most `max`."""

    tiers: dict[Identifier, Multiplier] = Field(default_factory=dict)
    default_tier: Identifier = "registered"
    certifications: dict[Identifier, Multiplier] = Field(default_factory=dict)
    max: Multiplier = Decimal(3)

    @model_validator(mode="after")
    def _default_tier_known(self) -> Accelerators:
        if self.tiers and self.default_tier not in self.tiers:
            raise ValueError(f"default_tier {self.default_tier!r} is not one of the tiers")
        return self


class Caps(_Model):
    """Most a partner earns per period (calendar month of the event time), per currency."""

    per_period: AmountMap = Field(default_factory=dict)


class Program(_Model):
    """One version of an incentive program."""

    program_id: Identifier
    version: Identifier
    description: str = Field(default="", max_length=2000)
    effective_from: date
    effective_to: date | None = None
    """Exclusive; none: open-ended."""
    hold_days: Annotated[int, Field(ge=0, le=3650)] = 30
    rules: Rules
    accelerators: Accelerators = Accelerators()
    caps: Caps = Caps()

    @model_validator(mode="after")
    def _range(self) -> Program:
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        return self

    def covers(self, at: datetime) -> bool:
        """Whether an event at `at` (its event time, in UTC) falls in this version's range."""
        day = at.astimezone(UTC).date()
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.effective_from, time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ProgramSet:
    """The activated versions; the one for an event is the latest-starting that covers it."""

    versions: Sequence[Program]
    fixed: Program | None = None
    """Set for a recalculation or a what-if: this version applies to `fixed_from` on."""
    fixed_from: datetime | None = None

    def for_time(self, at: datetime) -> Program | None:
        if self.fixed is not None and (self.fixed_from is None or at >= self.fixed_from):
            return self.fixed
        covering = [p for p in self.versions if p.covers(at)]
        return max(covering, key=lambda p: p.effective_from, default=None)

    def by_version(self, version: str) -> Program | None:
        for program in (*self.versions, *([self.fixed] if self.fixed else [])):
            if program.version == version:
                return program
        return None

    def with_fixed(self, program: Program, since: datetime | None) -> ProgramSet:
        """These versions, but `program` for every event at or after `since`."""
        return ProgramSet(self.versions, fixed=program, fixed_from=since)


class ProgramError(ValueError):
    """A program that does not validate; `problems` are `{"loc", "line", "msg", "type"}`."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__("; ".join(_describe(p) for p in problems))


def _describe(problem: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in problem["loc"]) or "document"
    line = f" (line {problem['line']})" if problem.get("line") else ""
    return f"{where}{line}: {problem['msg']}"


def _line_of(root: yaml.Node | None, loc: Iterable[Any]) -> int | None:
    """The 1-based line of the YAML node at `loc` (or of its nearest existing parent)."""
    node = root
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so pydantic validates them and a bad one
    (`2026-13-01`) is reported at its field and line instead of failing the YAML read."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_program(text: str) -> Program:
    """Validate a YAML program, raising ProgramError naming each bad field and its line."""
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        problem: dict[str, Any] = {
            "loc": [],
            "line": line,
            "msg": f"not valid YAML: {exc}" if isinstance(exc, yaml.YAMLError) else "not readable",
            "type": "yaml",
        }
        raise ProgramError([problem]) from None
    if not isinstance(data, dict):
        raise ProgramError([{"loc": [], "line": 1, "msg": "expected a mapping", "type": "type"}])
    try:
        return Program.model_validate(_stringify_numbers(data))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [part for part in error["loc"] if not str(part).startswith("function-")]
            line = _line_of(root, loc)
            problems.append({"loc": loc, "line": line, "msg": error["msg"], "type": error["type"]})
        raise ProgramError(problems) from None


def _stringify_numbers(value: Any) -> Any:
    """YAML reads `0.05` as a float; turn every float back into its decimal text so that
    amounts and rates stay exact (`Decimal("0.05")`, not the nearest binary fraction)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {k: _stringify_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_numbers(v) for v in value]
    return value


def default_program_text() -> str:
    """The YAML of the documented default program shipped with the service."""
    source = resources.files("fourfold.incentives").joinpath(DEFAULT_PROGRAM_RESOURCE)
    return source.read_text(encoding="utf-8")


def default_program() -> Program:
    return parse_program(default_program_text())
