"""API shapes of the health-scoring routes (what partners and admins read and send)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fourfold.events import Band, FormattedMoney, HealthSignalsSnapshot, LifecycleStep
from fourfold.service.text import RequestModel


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Component(_Out):
    name: str
    available: bool
    inputs: dict[str, bool | int | float | str | None] = Field(
        description="What the component read, with its JSON type (a flag is a boolean)."
    )
    score: float | None = Field(description="Normalised 0..1; null when not available.")
    weight: float = Field(description="Configured weight for the customer's lifecycle step.")
    effective_weight: float = Field(description="Share of the score after redistribution.")
    contribution: float = Field(description="Points this component adds to the 0..100 score.")


class Trend(_Out):
    change_7d: int | None
    change_30d: int | None


class Override(_Out):
    score: int | None
    band: Band | None
    reason: str
    set_by: str | None
    set_at: datetime
    expires_at: datetime


class CustomerHealth(_Out):
    customer_id: str
    partner_id: str | None
    score: int | None = Field(description="Shown score: the override's while one is in force.")
    band: Band
    step: LifecycleStep
    computed_score: int | None
    computed_band: Band
    trend: Trend
    scorecard_version: str
    scored_at: datetime
    step_reasons: list[str]
    components: list[Component]
    override: Override | None
    signals: HealthSignalsSnapshot


class HistoryPoint(_Out):
    at: datetime
    score: int | None
    computed_score: int | None
    band: Band
    step: LifecycleStep
    scorecard_version: str
    cause: Literal["event", "schedule", "override"]
    override: Override | None


class History(_Out):
    customer_id: str
    from_: datetime = Field(alias="from")
    to: datetime
    points: list[HistoryPoint]

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)


class SortKey(StrEnum):
    SCORE = "score"
    ARR = "arr"
    TREND = "trend"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class BookEntry(_Out):
    customer_id: str
    score: int | None
    band: Band
    step: LifecycleStep
    trend_7d: int | None
    trend_30d: int | None
    arr: FormattedMoney | None
    scored_at: datetime


class BookPage(_Out):
    partner_id: str
    items: list[BookEntry]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")


class Group(_Out):
    customers: int
    arr: list[FormattedMoney] = Field(description="Total ARR, one amount per currency.")


class PartnerSummary(_Out):
    partner_id: str
    customers: int
    arr: list[FormattedMoney]
    by_band: dict[Band, Group]
    by_step: dict[LifecycleStep, Group]
    average_score: float | None = Field(description="Plain mean over scored customers.")
    arr_weighted_average_score: dict[str, float] = Field(
        description="Per currency: mean score weighted by each customer's ARR."
    )


class OverrideIn(RequestModel):
    """A score, a band or both (the schema says so with `anyOf`; the route checks it)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["score"], "properties": {"score": {"type": "integer"}}},
                {"required": ["band"], "properties": {"band": {"type": "string"}}},
            ]
        },
    )

    score: int | None = Field(default=None, ge=0, le=100)
    band: Literal["red", "yellow", "green"] | None = None
    reason: str = Field(min_length=1, max_length=1000, pattern=r"\S", description="Why; not blank.")
    expires_at: AwareDatetime = Field(description="When it lapses; must be in the future.")


class ActiveScorecard(_Out):
    version: str
    source: str = Field(description="The file it was loaded from, or 'default'.")
    scorecard: dict[str, Any]


def money(amount: Decimal | None, currency: str | None) -> FormattedMoney | None:
    """ARR from the two stored columns in the currency's minor unit, or None when the customer
    has no ARR yet."""
    if amount is None or currency is None:
        return None
    return FormattedMoney.of(amount, currency)
