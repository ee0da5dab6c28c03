"""The stored form of a customer, the record-and-publish decisions, and API arithmetic."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import itertools
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fourfold.clock import ManualClock
from fourfold.errors import BadRequest
from fourfold.events import HEALTH_TOPIC, Band, HealthChanged, LifecycleStep, parse_event
from fourfold.health import rescoring
from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import Band as DomainBand
from fourfold.health.domain.scorecard import default_scorecard
from fourfold.health.domain.signals import (
    CustomerSignals,
    Expansion,
    ExpansionKind,
    Milestone,
    Money,
    PaymentState,
    Sentiment,
    SentimentKind,
    SubscriptionStatus,
    evolve,
)
from fourfold.health.evaluation import HISTORY_EVERY, Evaluation, Previous, as_read, evaluate
from fourfold.health.queries import decode_cursor, encode_cursor
from fourfold.health.rescoring import YIELD_EVERY
from fourfold.health.schemas import SortKey, SortOrder
from fourfold.health.snapshot import signals_snapshot
from fourfold.health.state import NO_PARTNER, CustomerState, state_from_json, state_to_json
from fourfold.health.views import partner_summary

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SCORECARD = default_scorecard()


def rich_state() -> CustomerState:
    start = NOW - timedelta(days=50)
    signals = CustomerSignals(
        customer_id="c1",
        partner_id="p1",
        plan="pro",
        status=SubscriptionStatus.ACTIVE,
        seats_bought=10,
        mrr=Money(Decimal("99.50"), "EUR"),
        subscription_start=start,
        term_end=start + timedelta(days=365),
        subscription_at=start,
        seats_in_use=7,
        seats_in_use_at=NOW - timedelta(days=1),
        active_users=tuple((NOW.date() - timedelta(days=d), 6) for d in range(40, 0, -1)),
        features_used=frozenset({"a", "b", "c"}),
        features_available=8,
        milestones={
            Milestone.KICKOFF: start + timedelta(days=2),
            Milestone.CONFIGURED: start + timedelta(days=9),
            Milestone.FIRST_VALUE: start + timedelta(days=20),
        },
        payment=PaymentState(1, True, NOW - timedelta(days=3)),
        sentiment=Sentiment(SentimentKind.NPS, 60, NOW - timedelta(days=4)),
        expansions=(Expansion(ExpansionKind.ADDON, NOW - timedelta(days=10)),),
    )
    return CustomerState(
        signals,
        partner_at=start,
        failed_invoices={"i9": NOW - timedelta(days=3)},
        paid_invoices={"i8": NOW - timedelta(days=20)},
    )


def test_state_round_trips_through_json() -> None:
    state = rich_state()
    doc = json.loads(json.dumps(state_to_json(state)))  # what JSONB hands back
    assert state_from_json(doc) == state
    empty = CustomerState.new("c2")
    assert state_from_json(json.loads(json.dumps(state_to_json(empty)))) == empty


def test_a_document_listing_failed_invoice_ids_only_reads_them_as_failed_long_ago() -> None:
    doc = state_to_json(rich_state())
    del doc["failed_invoices"]
    doc["failed_invoice_ids"] = ["i9"]
    loaded = state_from_json(json.loads(json.dumps(doc)))
    assert loaded.failed_invoices == {"i9": datetime(1970, 1, 1, tzinfo=UTC)}


def test_new_and_loaded_states_are_like_constructed_ones() -> None:
    assert CustomerState.new("c2") == CustomerState(CustomerSignals("c2", NO_PARTNER))
    assert state_from_json({"customer_id": "c2"}) == CustomerState.new("c2"), "keys added later"
    loaded = state_from_json(json.loads(json.dumps(state_to_json(rich_state()))))
    assert isinstance(loaded.signals.milestones, MappingProxyType)
    assert isinstance(loaded.paid_invoices, MappingProxyType)


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),  # noqa: DTZ001 (hypothesis takes naive bounds)
        max_value=datetime(9999, 12, 30),  # noqa: DTZ001
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-3))]
        ),
    )
)
def test_stored_times_are_written_as_their_isoformat(at: datetime) -> None:
    state = CustomerState(
        CustomerSignals("c1", "p1", subscription_at=at, milestones={Milestone.KICKOFF: at}),
        paid_invoices={"i1": at},
    )
    doc = state_to_json(state)
    assert doc["subscription_at"] == doc["milestones"]["kickoff"] == at.isoformat()
    assert doc["paid_invoices"] == {"i1": at.isoformat()}
    assert state_from_json(json.loads(json.dumps(doc))) == state


def test_snapshot_carries_what_downstream_needs() -> None:
    snap = signals_snapshot(rich_state(), SCORECARD, NOW)
    assert (snap.partner_id, snap.seats, snap.seats_in_use, snap.utilization) == ("p1", 10, 7, 0.7)
    assert snap.active_users_30d == pytest.approx(29 * 6 / 30), "days 1..29 ago"
    assert snap.active_users_prev_30d == pytest.approx(11 * 6 / 30), "days 30..40 ago"
    assert snap.usage_trend == pytest.approx(29 / 11)
    assert (snap.features_used, snap.features_available) == (3, 8)
    assert snap.arr is not None
    assert snap.arr.amount == Decimal("1194.00")
    assert (snap.failed_payments, snap.past_due, snap.last_nps, snap.last_csat) == (
        1,
        True,
        8,
        None,
    )
    assert snap.activated is True
    assert snap.subscription_start == (NOW - timedelta(days=50)).date()
    assert snap.last_expansion_at == NOW - timedelta(days=10)
    assert snap.cancel_effective is None


def test_snapshot_carries_the_cancellation_date_for_renewal_and_churn_rules() -> None:
    state = rich_state()
    ends = NOW + timedelta(days=30)
    cancelled = dataclasses.replace(
        state, signals=dataclasses.replace(state.signals, cancel_effective=ends)
    )
    assert signals_snapshot(cancelled, SCORECARD, NOW).cancel_effective == ends.date()


def previous_of(state: CustomerState, at: datetime) -> Previous:
    first = evaluate(state, previous=None, scorecard=SCORECARD, now=at, cause="event")
    return Previous(
        score=first.result.score,
        computed_score=first.result.computed_score,
        band=first.result.band.value,
        step=first.result.step.value,
        history_at=at,
        version=first.row["version"],
        partner_id=state.partner_id,
    )


def event_bytes(evaluation: Evaluation) -> bytes:
    assert evaluation.event is not None
    return evaluation.event.payload


def published(evaluation: Evaluation) -> HealthChanged:
    """The `health.changed` an evaluation stages, as a consumer reads it."""
    event = parse_event(event_bytes(evaluation))
    assert isinstance(event, HealthChanged)
    return event


def test_a_new_customer_is_recorded_and_published_as_version_one() -> None:
    evaluation = evaluate(rich_state(), previous=None, scorecard=SCORECARD, now=NOW, cause="event")
    assert evaluation.row["version"] == 1
    assert evaluation.history is not None
    event = published(evaluation)
    assert event.id == "health-c1-1"
    assert evaluation.event is not None
    assert (evaluation.event.topic, evaluation.event.key) == (HEALTH_TOPIC, "c1")
    data = event.data
    assert (data.previous_score, data.previous_band, data.previous_step) == (None, None, None)
    assert b'"previous_score":null' in event_bytes(evaluation), "nulls survive the wire"
    assert NOW < evaluation.row["next_recompute_at"] <= NOW + HISTORY_EVERY


def test_an_unchanged_result_publishes_nothing_and_records_history_only_daily() -> None:
    state = rich_state()
    previous = previous_of(state, NOW)
    soon = evaluate(
        state, previous=previous, scorecard=SCORECARD, now=NOW + timedelta(hours=1), cause="event"
    )
    assert soon.event is None
    assert soon.history is None
    assert soon.row["version"] == previous.version
    assert soon.row["history_at"] == NOW
    forced = evaluate(
        state,
        previous=previous,
        scorecard=SCORECARD,
        now=NOW + timedelta(hours=1),
        cause="override",
        force_history=True,
    )
    assert forced.history is not None


def test_a_changed_band_publishes_the_next_version_with_the_previous_values() -> None:
    state = rich_state()
    previous = previous_of(state, NOW)
    override = ManualOverride(
        reason="call", set_at=NOW, expires_at=NOW + timedelta(days=3), band=DomainBand.RED
    )
    moved = evaluate(
        state, previous=previous, scorecard=SCORECARD, now=NOW, override=override, cause="override"
    )
    assert published(moved).id == "health-c1-2"
    assert published(moved).data.band is Band.RED
    assert published(moved).data.previous_band == Band(previous.band)
    assert moved.history is not None
    assert moved.history["override"]["band"] == "red"
    assert moved.row["next_recompute_at"] <= override.expires_at


def stored_previous(row: dict[str, Any]) -> Previous:
    """What the repository reads back from a saved row."""
    return Previous(
        score=row["score"],
        computed_score=row["computed_score"],
        band=row["band"],
        step=row["step"],
        history_at=row["history_at"],
        version=row["version"],
        partner_id=row["partner_id"],
    )


def test_a_partner_reassignment_alone_publishes_health_changed() -> None:
    state = rich_state()
    previous = previous_of(state, NOW)
    moved = dataclasses.replace(state, signals=dataclasses.replace(state.signals, partner_id="p2"))
    later = NOW + timedelta(hours=1)
    evaluation = evaluate(moved, previous=previous, scorecard=SCORECARD, now=later, cause="event")
    assert evaluation.result.score == previous.score, "the score itself did not move"
    assert published(evaluation).data.partner_id == "p2"
    assert published(evaluation).id == "health-c1-2"
    assert evaluation.row["version"] == previous.version + 1
    again = evaluate(
        moved,
        previous=stored_previous(evaluation.row),
        scorecard=SCORECARD,
        now=later + timedelta(hours=1),
        cause="event",
    )
    assert again.event is None, "published once"


def test_history_has_a_point_at_least_daily_when_events_do_not_record() -> None:
    """Events every 20 hours that change nothing, the scheduler run at each row's
    next_recompute_at in between: consecutive history points are never more than a day apart."""
    signals = CustomerSignals(
        customer_id="c1",
        partner_id="p1",
        mrr=Money(Decimal("10"), "EUR"),
        payment=PaymentState(0, False, NOW),
    )
    state = CustomerState(signals)
    clock = ManualClock(NOW)
    first = evaluate(state, previous=None, scorecard=SCORECARD, now=clock.now(), cause="event")
    assert first.history is not None
    points, row = [first.history["at"]], first.row
    next_event = NOW + timedelta(hours=20)
    while clock.now() < NOW + timedelta(days=6):
        due = row["next_recompute_at"]
        cause = "schedule" if due < next_event else "event"
        clock.set(min(due, next_event))
        if cause == "event":
            next_event += timedelta(hours=20)
        evaluation = evaluate(
            state, previous=stored_previous(row), scorecard=SCORECARD, now=clock.now(), cause=cause
        )
        assert evaluation.event is None
        if evaluation.history is not None:
            points.append(evaluation.history["at"])
        row = evaluation.row
    gaps = [later - earlier for earlier, later in itertools.pairwise(points)]
    assert max(gaps) <= HISTORY_EVERY, points
    assert len(points) >= 6


def test_cursor_round_trips_and_rejects_another_listing() -> None:
    cursor = encode_cursor(SortKey.ARR, SortOrder.DESC, Decimal("1200.5"), "c/1", "EUR")
    assert decode_cursor(cursor, SortKey.ARR, SortOrder.DESC) == (Decimal("1200.5"), "c/1", "EUR")
    by_score = encode_cursor(SortKey.SCORE, SortOrder.ASC, Decimal(40), "c/2")
    assert decode_cursor(by_score, SortKey.SCORE, SortOrder.ASC) == (Decimal(40), "c/2", "")
    for sort, order in ((SortKey.SCORE, SortOrder.DESC), (SortKey.ARR, SortOrder.ASC)):
        with pytest.raises(BadRequest):
            decode_cursor(cursor, sort, order)
    raw = json.dumps({"s": "arr", "o": "desc", "v": "1", "id": "c/1"})  # no currency
    arr_without_currency = base64.urlsafe_b64encode(raw.encode()).decode()
    huge = encode_cursor(SortKey.ARR, SortOrder.DESC, Decimal("1E+999999999"), "c/1", "EUR")
    for junk in ("", "!!", "e30", "bm90IGpzb24", arr_without_currency, huge):
        with pytest.raises(BadRequest):
            decode_cursor(junk, SortKey.ARR, SortOrder.DESC)


def group(
    band: str, step: str, currency: str | None, n: int, arr: str | None, scores: list[int]
) -> dict[str, object]:
    amount = None if arr is None else Decimal(arr)
    return {
        "band": band,
        "step": step,
        "arr_currency": currency,
        "customers": n,
        "arr": amount,
        "scored": len(scores),
        "score_sum": sum(scores) if scores else None,
        "weighted_sum": None if amount is None or not scores else amount * sum(scores) / n,
        "scored_arr": amount if scores else None,
    }


def test_partner_summary_keeps_currencies_apart_and_weights_by_arr() -> None:
    summary = partner_summary(
        "p1",
        [
            group("green", "improve", "EUR", 1, "3000", [80]),
            group("red", "implement", "EUR", 1, "1000", [20]),
            group("yellow", "improve", "USD", 1, "500", [50]),
            group("unknown", "involve", None, 1, None, []),
        ],
    )
    assert summary.customers == 4
    assert [(m.currency, m.amount) for m in summary.arr] == [("EUR", "4000.00"), ("USD", "500.00")]
    assert summary.by_band[Band.GREEN].customers == 1
    assert summary.by_band[Band.UNKNOWN].arr == []
    assert summary.by_step[LifecycleStep.IMPROVE].customers == 2
    assert summary.by_step[LifecycleStep.INCREASE].customers == 0
    assert summary.average_score == 50.0
    assert summary.arr_weighted_average_score == {"EUR": 65.0, "USD": 50.0}
    empty = partner_summary("p1", [])
    assert (empty.customers, empty.average_score, empty.arr_weighted_average_score) == (0, None, {})


def test_a_state_without_partner_publishes_none() -> None:
    state = dataclasses.replace(
        rich_state(), signals=dataclasses.replace(rich_state().signals, partner_id="")
    )
    evaluation = evaluate(state, previous=None, scorecard=SCORECARD, now=NOW, cause="event")
    assert evaluation.row["partner_id"] is None
    assert published(evaluation).data.partner_id is None
    signals = as_read(evaluation.row)["signals"]
    assert date.fromisoformat(signals["active_users"][0][0]) < NOW.date()


async def test_scoring_many_customers_lets_other_requests_run_between_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A poll's rescoring hands the event loop back every YIELD_EVERY customers, so a GET on
    the same loop is served while a backlog is scored, not after the whole poll."""
    state = rich_state()
    customers: dict[str, tuple[CustomerState, Previous | None]] = {
        f"c{n}": (evolve(state, signals=evolve(state.signals, customer_id=f"c{n}")), None)
        for n in range(3 * YIELD_EVERY)
    }
    scored: list[str] = []
    seen_by_other_task: list[int] = []

    def counting(state: CustomerState, **kwargs: Any) -> Evaluation:
        scored.append(state.customer_id)
        return evaluate(state, **kwargs)

    async def other_request() -> None:
        seen_by_other_task.append(len(scored))

    monkeypatch.setattr(rescoring, "evaluate", counting)
    other = asyncio.create_task(other_request())
    evaluations = await rescoring.evaluate_all(
        customers, scorecard=SCORECARD, now=NOW, history={}, overrides={}, cause="event"
    )
    await other
    assert [e.row["customer_id"] for e in evaluations] == scored == list(customers)
    assert seen_by_other_task == [YIELD_EVERY], "the other task ran after the first chunk"
