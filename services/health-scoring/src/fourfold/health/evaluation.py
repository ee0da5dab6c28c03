"""Score one customer and decide what to record: the new current row, a history point (on
change, and at least daily), and a `health.changed` event (when score, band or step moved).

Pure: the consumer, the scheduler and the override route all load, call `evaluate`, save.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from fourfold.events import HEALTH_TOPIC
from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.schedule import next_time_change
from fourfold.health.domain.scorecard import Scorecard
from fourfold.health.domain.scoring import HealthResult, score
from fourfold.health.snapshot import explanation_document, override_json, snapshot_fields
from fourfold.health.state import CustomerState, state_document
from fourfold.kafka.outbox import EncodedEvent, encode_event

SOURCE = "fourfold/health-scoring"
HISTORY_EVERY = timedelta(days=1)
"""A history point at least this often, so a flat score still shows in the history."""
TREND_LOOKBACK = timedelta(days=32)
"""History older than this is not needed for the 7- and 30-day trend."""


@dataclass(frozen=True)
class Previous:
    """The customer's last recorded result."""

    score: int | None
    computed_score: int | None
    band: str
    step: str
    history_at: datetime
    version: int
    partner_id: str | None
    """The partner of record the last result was published for: a reassignment publishes."""


@dataclass(frozen=True)
class Evaluation:
    result: HealthResult
    row: dict[str, Any]
    """The current row for the upsert; its JSON documents (`signals`, `explanation`) are
    already encoded (bytes): `as_read` gives them as the database returns them."""
    history: dict[str, Any] | None
    event: EncodedEvent | None
    """`health.changed` as the bytes the outbox publishes (a test proves they meet the contract)."""


def evaluate(
    state: CustomerState,
    *,
    previous: Previous | None,
    scorecard: Scorecard,
    now: datetime,
    history: Sequence[tuple[datetime, int | None]] = (),
    override: ManualOverride | None = None,
    cause: str,
    force_history: bool = False,
) -> Evaluation:
    """Score `state` at `now` and compare with `previous`."""
    result = score(state.signals, scorecard, now, history, override)
    band, step = result.band.value, result.step.value
    changed = previous is None or (
        previous.score,
        previous.band,
        previous.step,
        previous.partner_id,
    ) != (result.score, band, step, state.partner_id)
    moved = changed or previous is None or previous.computed_score != result.computed_score
    due = previous is None or now - previous.history_at >= HISTORY_EVERY
    record = moved or due or force_history
    version = (0 if previous is None else previous.version) + (1 if changed else 0)
    arr = state.signals.arr
    next_change = next_time_change(state.signals, scorecard, now, override)
    # The next daily point is due one day after the last point, not after this evaluation:
    # an unrecorded evaluation must not push it further out (history at least daily).
    daily = (now if record or previous is None else previous.history_at) + HISTORY_EVERY
    row = {
        "customer_id": state.customer_id,
        "partner_id": state.partner_id,
        "signals": state_document(state),
        "score": result.score,
        "computed_score": result.computed_score,
        "band": band,
        "step": step,
        "trend_7d": result.trend.change_7d,
        "trend_30d": result.trend.change_30d,
        "arr_amount": None if arr is None else arr.amount,
        "arr_currency": None if arr is None else arr.currency,
        "scorecard_version": result.scorecard_version,
        "explanation": explanation_document(result),
        "scored_at": now,
        "history_at": now if record or previous is None else previous.history_at,
        "next_recompute_at": daily if next_change is None else min(next_change, daily),
        "version": version,
    }
    point = None
    if record:
        point = {
            "customer_id": state.customer_id,
            "at": now,
            "score": result.score,
            "computed_score": result.computed_score,
            "band": band,
            "step": step,
            "scorecard_version": result.scorecard_version,
            "cause": cause,
            "override": override_json(result.override),
        }
    event = _changed_event(state, result, previous, scorecard, version) if changed else None
    return Evaluation(result=result, row=row, history=point, event=event)


def as_read(row: dict[str, Any]) -> dict[str, Any]:
    """An evaluation's row as a SELECT of it returns it: the JSON documents decoded."""
    return {
        **row,
        "signals": orjson.loads(row["signals"]),
        "explanation": orjson.loads(row["explanation"]),
    }


def _changed_event(
    state: CustomerState,
    result: HealthResult,
    previous: Previous | None,
    scorecard: Scorecard,
    version: int,
) -> EncodedEvent:
    """The event as its JSON bytes, encoded once by orjson: no pydantic model is built on this
    path (it ran once per changed customer). Every field is typed by the domain already;
    tests/unit/test_changed_bytes.py proves, for any customer, that the bytes validate
    against docs/events/v1/health.changed.json and parse to what the model would hold."""
    return encode_event(
        HEALTH_TOPIC,
        state.customer_id,
        event_id=f"health-{state.customer_id}-{version}",
        source=SOURCE,
        event_type="health.changed",
        time=result.as_of,
        data={
            "customer_id": state.customer_id,
            "partner_id": state.partner_id,
            "score": result.score,
            "previous_score": None if previous is None else previous.score,
            "band": result.band,
            "previous_band": None if previous is None else previous.band,
            "step": result.step,
            "previous_step": None if previous is None else previous.step,
            "trend_7d": result.trend.change_7d,
            "trend_30d": result.trend.change_30d,
            "scorecard_version": result.scorecard_version,
            "scored_at": result.as_of,
            "signals": snapshot_fields(state, scorecard, result.as_of, result.activated),
        },
        default=_json_default,
    )


def _json_default(value: object) -> str:
    """Decimals (money amounts) as the JSON strings the contract asks for, as pydantic writes
    them."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
