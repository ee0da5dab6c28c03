"""Invariants that must hold for any customer, checked with hypothesis."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import assume, given
from hypothesis import strategies as st

from fourfold.events import HealthChanged, parse_event
from fourfold.health.domain.schedule import next_time_change
from fourfold.health.domain.scorecard import ComponentName, Scorecard, default_scorecard
from fourfold.health.domain.scoring import HealthResult, score
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
    UsageMetric,
    evolve,
    with_usage,
)
from fourfold.health.evaluation import SOURCE, Previous, evaluate
from fourfold.health.snapshot import signals_snapshot
from fourfold.health.state import NO_PARTNER, CustomerState

AS_OF = datetime(2025, 6, 30, 12, tzinfo=UTC)
TODAY = AS_OF.date()
DEFAULT = default_scorecard()


def _without_step_weights(card: Scorecard) -> Scorecard:
    data = card.model_dump()
    for component in data["components"].values():
        component["weights_by_step"] = {}
    return Scorecard.model_validate(data)


FLAT = _without_step_weights(DEFAULT)
"""One weight set for every step: a better signal that also moves the step cannot lower it."""

hours = st.integers(min_value=-400 * 24, max_value=400 * 24).map(
    lambda h: AS_OF + timedelta(hours=h)
)
past = st.integers(min_value=0, max_value=400 * 24).map(lambda h: AS_OF - timedelta(hours=h))
days = st.integers(min_value=-10, max_value=150).map(lambda n: TODAY - timedelta(days=n))
answers = st.one_of(
    st.builds(Sentiment, st.just(SentimentKind.NPS), st.integers(-100, 100), hours),
    st.builds(Sentiment, st.just(SentimentKind.CSAT), st.integers(1, 5), hours),
)
sentiments = st.none() | answers


@st.composite
def customers(draw: st.DrawFn) -> CustomerSignals:
    return CustomerSignals(
        customer_id="c1",
        partner_id="p1",
        seats_bought=draw(st.none() | st.integers(0, 50)),
        seats_in_use=draw(st.none() | st.integers(0, 60)),
        subscription_start=draw(st.none() | hours),
        term_end=draw(st.none() | hours),
        active_users=tuple(
            sorted(draw(st.dictionaries(days, st.integers(0, 40), max_size=40)).items())
        ),
        features_used=frozenset(draw(st.sets(st.sampled_from("abcdefghij"), max_size=10))),
        features_available=draw(st.none() | st.integers(0, 12)),
        milestones=draw(st.dictionaries(st.sampled_from(list(Milestone)), hours)),
        payment=draw(st.none() | st.builds(PaymentState, st.integers(0, 6), st.booleans(), hours)),
        sentiment=draw(sentiments),
        expansions=tuple(
            draw(
                st.lists(
                    st.builds(Expansion, st.sampled_from(list(ExpansionKind)), hours), max_size=3
                )
            )
        ),
    )


def rank(result: HealthResult) -> int:
    return -1 if result.computed_score is None else result.computed_score


@given(customers(), hours)
def test_score_stays_within_0_and_100(customer: CustomerSignals, as_of: datetime) -> None:
    result = score(customer, DEFAULT, as_of)
    assert result.score is None or 0 <= result.score <= 100
    assert result.band is DEFAULT.bands.band_for(result.score)
    shares = [c.effective_weight for c in result.components if c.available]
    if result.score is not None:
        assert abs(sum(shares, Decimal(0)) - 1) <= Decimal("0.00005") * len(shares)


def _never_lower(before: CustomerSignals, after: CustomerSignals) -> None:
    assert rank(score(after, FLAT, AS_OF)) >= rank(score(before, FLAT, AS_OF))
    same_step_before, same_step_after = score(before, DEFAULT, AS_OF), score(after, DEFAULT, AS_OF)
    if same_step_before.step is same_step_after.step:
        assert rank(same_step_after) >= rank(same_step_before)


@given(customers(), st.integers(1, 50), st.integers(0, 49), st.integers(1, 50))
def test_more_seats_in_use_up_to_seats_bought_never_lowers(
    customer: CustomerSignals, bought: int, in_use: int, more: int
) -> None:
    in_use = min(in_use, bought - 1)
    before = dataclasses.replace(customer, seats_bought=bought, seats_in_use=in_use)
    _never_lower(before, dataclasses.replace(before, seats_in_use=min(bought, in_use + more)))


@given(customers(), st.integers(0, 29), st.integers(1, 40))
def test_more_active_users_recently_never_lowers(
    customer: CustomerSignals, ago: int, more: int
) -> None:
    day = TODAY - timedelta(days=ago)
    counts = dict(customer.active_users)
    counts[day] = counts.get(day, 0) + more
    _never_lower(
        customer, dataclasses.replace(customer, active_users=tuple(sorted(counts.items())))
    )


@given(customers(), st.sampled_from(list(Milestone)), past)
def test_another_milestone_never_lowers(
    customer: CustomerSignals, milestone: Milestone, at: datetime
) -> None:
    assume(milestone not in customer.milestones)
    _never_lower(
        customer, dataclasses.replace(customer, milestones={**customer.milestones, milestone: at})
    )


@given(customers(), answers, st.integers(1, 200))
def test_better_sentiment_never_lowers(
    customer: CustomerSignals, answer: Sentiment, better: int
) -> None:
    top = 100 if answer.kind is SentimentKind.NPS else 5
    improved = dataclasses.replace(answer, value=min(top, answer.value + better))
    before = dataclasses.replace(customer, sentiment=answer)
    _never_lower(before, dataclasses.replace(customer, sentiment=improved))


def _removed(card: Scorecard, name: ComponentName) -> Scorecard | None:
    data: dict[str, Any] = card.model_dump()
    data["components"][name.value] = None
    try:
        return Scorecard.model_validate(data)
    except ValueError:
        return None


@given(customers(), hours)
def test_unavailable_component_weighs_the_same_as_no_component(
    customer: CustomerSignals, as_of: datetime
) -> None:
    result = score(customer, DEFAULT, as_of)
    for missing in (c.name for c in result.components if not c.available):
        smaller = _removed(DEFAULT, missing)
        if smaller is None:
            continue
        without = score(customer, smaller, as_of)
        assert without.computed_score == result.computed_score
        kept = {c.name: c.effective_weight for c in result.components if c.name != missing}
        assert {c.name: c.effective_weight for c in without.components} == kept


@given(customers(), st.integers(0, 10**9))
def test_nothing_changes_before_the_next_scheduled_change(
    customer: CustomerSignals, step_us: int
) -> None:
    upcoming = next_time_change(customer, DEFAULT, AS_OF)
    horizon = (upcoming - AS_OF) if upcoming else timedelta(days=800)
    later = AS_OF + timedelta(microseconds=step_us % (horizon // timedelta(microseconds=1)))
    now, then = score(customer, DEFAULT, AS_OF), score(customer, DEFAULT, later)
    assert (then.score, then.band, then.step) == (now.score, now.band, now.step)


@given(st.lists(st.tuples(days, st.integers(0, 40)), max_size=30), st.randoms())
def test_usage_folds_commute(observations: list[tuple[date, int]], shuffler: Any) -> None:
    def fold(points: list[tuple[date, int]]) -> CustomerSignals:
        folded = CustomerSignals("c1", "p1")
        for day, value in points:
            at = datetime.combine(day, datetime.min.time(), UTC)
            folded = with_usage(folded, UsageMetric.ACTIVE_USERS, value, at)
        return folded

    shuffled = list(observations)
    shuffler.shuffle(shuffled)
    assert fold(shuffled) == fold(observations)


HEALTH_CHANGED_SCHEMA = json.loads(
    (Path(__file__).parents[4] / "docs/events/v1/health.changed.json").read_text()
)
CONTRACT = jsonschema.Draft202012Validator(
    HEALTH_CHANGED_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
amounts = st.one_of(  # as a contract carries them: up to 14 digits, 0 to 4 after the point
    *(st.decimals(0, Decimal("99999999999999.9999"), places=places) for places in (0, 2, 4))
)
subscriptions = st.fixed_dictionaries(
    {
        "plan": st.none() | st.sampled_from(["starter", "growth", "enterprise"]),
        "status": st.none() | st.sampled_from(list(SubscriptionStatus)),
        "mrr": st.none() | st.builds(Money, amounts, st.sampled_from(["EUR", "JPY", "BHD"])),
        "cancel_effective": st.none() | hours,
        "partner_id": st.sampled_from(["p1", NO_PARTNER]),
        # up to what the input contracts allow (Seats, a usage value's Quantity), so the
        # derived measures are shown to stay inside the output contract's bounds
        "seats_bought": st.none() | st.integers(0, 10_000_000),
        "seats_in_use": st.none() | st.integers(0, 10**12),
        "active_users": st.dictionaries(days, st.integers(0, 10**12), max_size=40).map(
            lambda counts: tuple(sorted(counts.items()))
        ),
    }
)


@given(customers(), subscriptions, hours, st.booleans())
def test_health_changed_bytes_meet_the_published_contract(
    customer: CustomerSignals, subscription: dict[str, Any], as_of: datetime, first: bool
) -> None:
    """`health.changed` is encoded by orjson without a pydantic model: for any customer, its
    bytes validate against docs/events/v1/health.changed.json, and parse to the result and
    to the snapshot the model builds from the same state (the road they replaced)."""
    state = evolve(CustomerState.new("c1"), signals=dataclasses.replace(customer, **subscription))
    previous = None if first else Previous(7, 7, "red", "involve", AS_OF, 3, "p0")
    evaluation = evaluate(state, previous=previous, scorecard=DEFAULT, now=as_of, cause="event")
    assert evaluation.event is not None
    raw = evaluation.event.payload
    CONTRACT.validate(json.loads(raw))
    event = parse_event(raw)
    assert isinstance(event, HealthChanged)
    assert (evaluation.event.topic, evaluation.event.key) == (event.topic, event.key)
    assert (event.id, event.source, event.time) == (
        f"health-c1-{evaluation.row['version']}",
        SOURCE,
        evaluation.result.as_of,
    )
    result, data = evaluation.result, event.data
    assert (data.customer_id, data.partner_id) == ("c1", state.partner_id)
    assert (data.score, data.band.value, data.step.value) == (
        result.score,
        result.band.value,
        result.step.value,
    )
    assert (data.previous_score, data.previous_band, data.previous_step) == (
        (None, None, None) if first else (7, "red", "involve")
    )
    assert (data.trend_7d, data.trend_30d) == (result.trend.change_7d, result.trend.change_30d)
    assert (data.scorecard_version, data.scored_at) == (result.scorecard_version, result.as_of)
    assert data.signals == signals_snapshot(state, DEFAULT, result.as_of)
