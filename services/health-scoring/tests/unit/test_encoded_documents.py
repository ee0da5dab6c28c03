"""The documents the upsert writes are encoded straight from the records (`state_document`,
`explanation_document`), not from the plain dicts (`state_to_json`, `explanation_json`):
for any state and any result, the bytes are the plain documents' bytes exactly. And the
`health.changed` snapshot reuses the lifecycle's activation instead of asking again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

import orjson
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import TzInfo

from fourfold.health.domain.components import engagement_windows
from fourfold.health.domain.lifecycle import is_activated
from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.scorecard import Band, Scorecard, default_scorecard
from fourfold.health.domain.scoring import score
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
)
from fourfold.health.evaluation import Previous, as_read, evaluate
from fourfold.health.snapshot import explanation_document, explanation_json, snapshot_fields
from fourfold.health.state import CustomerState, state_document, state_from_json, state_to_json

AS_OF = datetime(2026, 6, 30, 12, tzinfo=UTC)
DEFAULT = default_scorecard()
ZONES: list[tzinfo] = [
    UTC,  # what stored documents and billing dates load as
    timezone(timedelta(0)),  # a UTC that is not the singleton
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-3)),
    TzInfo(0),  # what pydantic parses an event's "Z" into
    TzInfo(-(9 * 3600 + 30 * 60)),
]


def _scorecard(window_days: int) -> Scorecard:
    data = DEFAULT.model_dump()
    data["components"]["engagement"]["window_days"] = window_days
    return Scorecard.model_validate(data)


SCORECARDS = st.sampled_from([DEFAULT, _scorecard(7), _scorecard(45)])

times = st.builds(
    lambda hours, micros, zone: (AS_OF + timedelta(hours=hours, microseconds=micros)).astimezone(
        zone
    ),
    st.integers(-800 * 24, 400 * 24),
    st.sampled_from([0, 1, 999_999]),
    st.sampled_from(ZONES),
)
days = st.integers(-10, 150).map(lambda n: AS_OF.date() - timedelta(days=n))
ids = st.text("abcxyz-0123", min_size=1, max_size=6)
amounts = st.decimals(0, Decimal("99999999.9999"), places=4) | st.decimals(0, 10**6, places=0)


@st.composite
def states(draw: st.DrawFn) -> CustomerState:
    signals = CustomerSignals(
        customer_id=draw(ids),
        partner_id=draw(st.sampled_from(["", "p1", 'p"\\é'])),
        plan=draw(st.none() | st.text(max_size=8)),
        status=draw(st.none() | st.sampled_from(list(SubscriptionStatus))),
        seats_bought=draw(st.none() | st.integers(0, 10_000_000)),
        mrr=draw(st.none() | st.builds(Money, amounts, st.sampled_from(["EUR", "JPY"]))),
        subscription_start=draw(st.none() | times),
        term_end=draw(st.none() | times),
        subscription_at=draw(st.none() | times),
        cancel_effective=draw(st.none() | times),
        seats_in_use=draw(st.none() | st.integers(0, 10**12)),
        seats_in_use_at=draw(st.none() | times),
        active_users=tuple(
            sorted(draw(st.dictionaries(days, st.integers(0, 10**12), max_size=40)).items())
        ),
        features_used=frozenset(draw(st.sets(st.text(max_size=5), max_size=6))),
        features_available=draw(st.none() | st.integers(0, 12)),
        milestones=draw(st.dictionaries(st.sampled_from(list(Milestone)), times)),
        payment=draw(st.none() | st.builds(PaymentState, st.integers(0, 6), st.booleans(), times)),
        sentiment=draw(
            st.none()
            | st.builds(Sentiment, st.just(SentimentKind.NPS), st.integers(-100, 100), times)
            | st.builds(Sentiment, st.just(SentimentKind.CSAT), st.integers(1, 5), times)
        ),
        expansions=tuple(
            sorted(
                draw(
                    st.lists(
                        st.builds(Expansion, st.sampled_from(list(ExpansionKind)), times),
                        max_size=3,
                    )
                ),
                key=lambda e: (e.at, e.kind.value),
            )
        ),
    )
    return CustomerState(
        signals,
        partner_at=draw(st.none() | times),
        failed_invoices=draw(st.dictionaries(ids, times, max_size=3)),
        paid_invoices=draw(st.dictionaries(ids, times, max_size=3)),
        newest_ids=draw(
            st.dictionaries(
                st.sampled_from(["subscription", "seats", "partner"]),
                st.frozensets(ids, min_size=1, max_size=3),
                max_size=3,
            )
        ),
    )


overrides = st.none() | st.builds(
    lambda set_at, days, points, band: ManualOverride(
        reason="r", set_at=set_at, expires_at=set_at + timedelta(days=days), score=points, band=band
    ),
    times,
    st.integers(1, 400),
    st.integers(0, 100),
    st.none() | st.sampled_from([Band.GREEN, Band.RED]),
)
history = st.lists(st.tuples(times, st.none() | st.integers(0, 100)), max_size=4)


@given(states())
def test_the_state_document_is_the_plain_document_byte_for_byte(state: CustomerState) -> None:
    encoded = state_document(state)
    assert encoded == orjson.dumps(state_to_json(state))
    assert state_from_json(orjson.loads(encoded)) == state


@given(states(), SCORECARDS, times, history, overrides)
def test_the_explanation_document_is_the_plain_document_byte_for_byte(
    state: CustomerState,
    card: Scorecard,
    as_of: datetime,
    points: list[tuple[datetime, int | None]],
    override: ManualOverride | None,
) -> None:
    result = score(state.signals, card, as_of, points, override)
    assert explanation_document(result) == orjson.dumps(explanation_json(result))


@given(states(), SCORECARDS, times, st.booleans())
def test_the_saved_row_reads_back_as_the_plain_documents(
    state: CustomerState, card: Scorecard, as_of: datetime, first: bool
) -> None:
    previous = None if first else Previous(7, 7, "red", "involve", AS_OF, 3, "p0")
    evaluation = evaluate(state, previous=previous, scorecard=card, now=as_of, cause="event")
    row = as_read(evaluation.row)
    assert row["signals"] == orjson.loads(orjson.dumps(state_to_json(state)))
    assert row["explanation"] == orjson.loads(orjson.dumps(explanation_json(evaluation.result)))
    assert {k: v for k, v in row.items() if k not in ("signals", "explanation")} == {
        k: v for k, v in evaluation.row.items() if k not in ("signals", "explanation")
    }


@given(states(), SCORECARDS, times)
def test_scoring_hands_the_snapshot_the_activation_it_would_compute(
    state: CustomerState, card: Scorecard, as_of: datetime
) -> None:
    signals = state.signals
    result = score(signals, card, as_of)
    start = signals.subscription_start
    if start is None or start > as_of:
        assert result.activated is None
    else:
        assert result.activated is is_activated(signals, card.lifecycle, as_of)
    given_it = snapshot_fields(state, card, as_of, result.activated)
    assert given_it == snapshot_fields(state, card, as_of)


def _plain_windows(
    series: tuple[tuple[date, int], ...], today: date, window_days: int
) -> tuple[int, int]:
    recent_start = today - timedelta(days=window_days - 1)
    prior_start = recent_start - timedelta(days=window_days)
    recent = sum(v for d, v in series if recent_start <= d <= today)
    prior = sum(v for d, v in series if prior_start <= d < recent_start)
    return recent, prior


@given(
    st.lists(st.tuples(days, st.integers(0, 10**6)), max_size=40),
    days,
    st.integers(1, 90),
)
def test_engagement_windows_in_one_pass_sum_as_the_two_windows_do(
    points: list[tuple[date, int]], today: date, window_days: int
) -> None:
    series = tuple(points)  # in any order, repeated days included
    assert engagement_windows(series, today, window_days) == _plain_windows(
        series, today, window_days
    )
