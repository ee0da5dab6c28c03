"""Stored rows → API shapes, and the partner summary's arithmetic (pure, unit-tested)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from fourfold.events import Band, FormattedMoney, HealthSignalsSnapshot, LifecycleStep, MoneyTotal
from fourfold.events.money import round_to_minor_unit
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.schemas import (
    BookEntry,
    Component,
    CustomerHealth,
    Group,
    HistoryPoint,
    Override,
    PartnerSummary,
    Trend,
    money,
)
from fourfold.health.snapshot import signals_snapshot
from fourfold.health.state import state_from_json


def customer_health(row: Mapping[str, Any], scorecard: Scorecard) -> CustomerHealth:
    """A customer's current health from its stored row (the explanation saved when scored)."""
    explanation = row["explanation"]
    override = explanation.get("override")
    return CustomerHealth(
        customer_id=row["customer_id"],
        partner_id=row["partner_id"],
        score=row["score"],
        band=Band(row["band"]),
        step=LifecycleStep(row["step"]),
        computed_score=explanation["computed_score"],
        computed_band=Band(explanation["computed_band"]),
        trend=Trend.model_validate(explanation["trend"]),
        scorecard_version=row["scorecard_version"],
        scored_at=row["scored_at"],
        step_reasons=explanation["step_reasons"],
        components=[Component.model_validate(c) for c in explanation["components"]],
        override=None if override is None else Override.model_validate(override),
        signals=_in_minor_units(
            signals_snapshot(state_from_json(row["signals"]), scorecard, row["scored_at"])
        ),
    )


def _in_minor_units(signals: HealthSignalsSnapshot) -> HealthSignalsSnapshot:
    """The snapshot as the API shows it: ARR in the currency's minor unit, as in the book."""
    arr = signals.arr
    if arr is None:
        return signals
    shown = MoneyTotal(amount=round_to_minor_unit(arr.amount, arr.currency), currency=arr.currency)
    return signals.model_copy(update={"arr": shown})


def history_point(row: Mapping[str, Any]) -> HistoryPoint:
    override = row["override"]
    return HistoryPoint(
        at=row["at"],
        score=row["score"],
        computed_score=row["computed_score"],
        band=Band(row["band"]),
        step=LifecycleStep(row["step"]),
        scorecard_version=row["scorecard_version"],
        cause=row["cause"],
        override=None if override is None else Override.model_validate(override),
    )


def book_entry(row: Mapping[str, Any]) -> BookEntry:
    return BookEntry(
        customer_id=row["customer_id"],
        score=row["score"],
        band=Band(row["band"]),
        step=LifecycleStep(row["step"]),
        trend_7d=row["trend_7d"],
        trend_30d=row["trend_30d"],
        arr=money(row["arr_amount"], row["arr_currency"]),
        scored_at=row["scored_at"],
    )


class _Tally:
    def __init__(self) -> None:
        self.customers = 0
        self.arr: dict[str, Decimal] = defaultdict(Decimal)

    def add(self, customers: int, currency: str | None, arr: Decimal | None) -> None:
        self.customers += customers
        if currency is not None and arr is not None:
            self.arr[currency] += arr

    def amounts(self) -> list[FormattedMoney]:
        return [FormattedMoney.of(a, c) for c, a in sorted(self.arr.items())]

    def group(self) -> Group:
        return Group(customers=self.customers, arr=self.amounts())


def partner_summary(partner_id: str, groups: Iterable[Mapping[str, Any]]) -> PartnerSummary:
    """Fold the (band, step, currency) groups into totals per band and step and the averages.
    ARR is never summed across currencies; the weighted mean is given per currency."""
    total = _Tally()
    by_band: dict[Band, _Tally] = defaultdict(_Tally)
    by_step: dict[LifecycleStep, _Tally] = defaultdict(_Tally)
    scored, score_sum = 0, Decimal(0)
    weighted: dict[str, Decimal] = defaultdict(Decimal)
    weights: dict[str, Decimal] = defaultdict(Decimal)
    for g in groups:
        currency, arr = g["arr_currency"], g["arr"]
        for tally in (total, by_band[Band(g["band"])], by_step[LifecycleStep(g["step"])]):
            tally.add(g["customers"], currency, arr)
        scored += g["scored"]
        score_sum += Decimal(g["score_sum"] or 0)
        if currency is not None and g["scored_arr"]:
            weighted[currency] += Decimal(g["weighted_sum"])
            weights[currency] += Decimal(g["scored_arr"])
    return PartnerSummary(
        partner_id=partner_id,
        customers=total.customers,
        arr=total.amounts(),
        by_band={band: by_band[band].group() for band in Band},
        by_step={step: by_step[step].group() for step in LifecycleStep},
        average_score=round(float(score_sum / scored), 2) if scored else None,
        arr_weighted_average_score={
            c: round(float(weighted[c] / weights[c]), 2) for c in sorted(weights) if weights[c]
        },
    )
