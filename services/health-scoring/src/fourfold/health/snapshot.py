"""Results as data for others: the signals snapshot in `health.changed` and the explanation
stored with each score (what the API shows). Pure functions of state, result and time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from fourfold.events import HealthSignalsSnapshot
from fourfold.health.domain.components import engagement_windows, utilisation
from fourfold.health.domain.lifecycle import is_activated
from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.domain.scoring import HealthResult
from fourfold.health.domain.signals import SentimentKind, utc_day
from fourfold.health.folding import nps_from_domain
from fourfold.health.state import CustomerState

USAGE_WINDOW_DAYS = 30


def signals_snapshot(
    state: CustomerState, scorecard: Scorecard, as_of: datetime
) -> HealthSignalsSnapshot:
    """What incentives and notifications need, already aggregated at `as_of`."""
    return HealthSignalsSnapshot.model_validate(snapshot_fields(state, scorecard, as_of))


def snapshot_fields(
    state: CustomerState, scorecard: Scorecard, as_of: datetime, activated: bool | None = None
) -> dict[str, Any]:
    """The snapshot as plain fields, for building a whole event in one validation call.
    `activated`: the lifecycle's answer at `as_of` when scoring already asked it."""
    s = state.signals
    if activated is None:
        activated = s.subscription_start is not None and is_activated(s, scorecard.lifecycle, as_of)
    recent, prior = engagement_windows(s.active_users, utc_day(as_of), USAGE_WINDOW_DAYS)
    ratio = utilisation(s)
    sentiment, arr = s.sentiment, s.arr
    seen = bool(s.active_users)
    return dict(
        partner_id=state.partner_id,
        plan=s.plan,
        subscription_status=None if s.status is None else s.status.value,
        seats=s.seats_bought,
        seats_in_use=s.seats_in_use,
        utilization=None if ratio is None else float(ratio),
        active_users_30d=recent / USAGE_WINDOW_DAYS if seen else None,
        active_users_prev_30d=prior / USAGE_WINDOW_DAYS if seen else None,
        usage_trend=recent / prior if prior else None,
        features_used=len(s.features_used),
        features_available=s.features_available,
        milestones={m.value: at for m, at in s.milestones.items()},
        activated=activated,
        subscription_start=None if s.subscription_start is None else s.subscription_start.date(),
        term_end=None if s.term_end is None else s.term_end.date(),
        cancel_effective=None if s.cancel_effective is None else s.cancel_effective.date(),
        arr=None if arr is None else {"amount": arr.amount, "currency": arr.currency},
        failed_payments=0 if s.payment is None else s.payment.failed_invoices,
        past_due=False if s.payment is None else s.payment.past_due,
        last_nps=nps_from_domain(sentiment.value)
        if sentiment is not None and sentiment.kind is SentimentKind.NPS
        else None,
        last_csat=sentiment.value
        if sentiment is not None and sentiment.kind is SentimentKind.CSAT
        else None,
        last_expansion_at=max((e.at for e in s.expansions), default=None),
    )


def override_json(override: ManualOverride | None) -> dict[str, Any] | None:
    if override is None:
        return None
    return {
        "score": override.score,
        "band": None if override.band is None else override.band.value,
        "reason": override.reason,
        "set_by": override.set_by,
        "set_at": override.set_at.isoformat(),
        "expires_at": override.expires_at.isoformat(),
    }


def explanation_json(result: HealthResult) -> dict[str, Any]:
    """Why the score is what it is: step reasons, each component's inputs, normalised score,
    weight and contribution, the trend and any override in force. The readable definition:
    the save writes the same document's bytes (`explanation_document`)."""
    return {
        "step_reasons": list(result.step_reasons),
        "computed_score": result.computed_score,
        "computed_band": result.computed_band.value,
        "trend": {"change_7d": result.trend.change_7d, "change_30d": result.trend.change_30d},
        "components": [
            {
                "name": c.name.value,
                "available": c.available,
                # JSON numbers: Decimals become floats (inline, this runs per rescore)
                "inputs": {
                    key: float(value) if type(value) is Decimal else value
                    for key, value in c.inputs.items()
                },
                "score": None if c.score is None else float(c.score),
                "weight": float(c.weight),
                "effective_weight": float(c.effective_weight),
                "contribution": float(c.contribution),
            }
            for c in result.components
        ],
        "override": override_json(result.override),
    }


def explanation_document(result: HealthResult) -> bytes:
    """`explanation_json(result)` as the JSON bytes the upsert binds, byte for byte, without
    building it: orjson writes the components and the trend from their dataclasses (same
    fields, same order), the enums and the reason tuple itself, and asks `_json_number` only
    for each Decimal (a unit property pins the bytes)."""
    return orjson.dumps(
        {
            "step_reasons": result.step_reasons,
            "computed_score": result.computed_score,
            "computed_band": result.computed_band,
            "trend": result.trend,
            "components": result.components,
            "override": override_json(result.override),
        },
        default=_json_number,
    )


_float = lru_cache(maxsize=16384)(float)
"""A Decimal's float, memoised: `float(Decimal)` goes through the number's text (0.27 µs, 0.6
for a 28-digit ratio, against 0.05 for a hit); an explanation holds ~27 Decimals and most
recur from customer to customer (weights, 4-place shares and scores, 2-place points)."""


def _json_number(value: object) -> object:
    """What orjson does not write itself: Decimals (as floats, like `explanation_json`) and
    read-only mappings of inputs (as dicts)."""
    if isinstance(value, Decimal):
        return _float(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
