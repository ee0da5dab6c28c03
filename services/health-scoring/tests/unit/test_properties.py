"""Invariants that must hold for any customer, checked with hypothesis."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import assume, given
from hypothesis import strategies as st

from fourfold.events import HealthChanged, parse_event
from fourfold.health.domain.components import ComponentReading, read_components
from fourfold.health.domain.lifecycle import lifecycle_step
from fourfold.health.domain.override import ManualOverride
from fourfold.health.domain.schedule import next_time_change
from fourfold.health.domain.scorecard import Band, ComponentName, Scorecard, default_scorecard
from fourfold.health.domain.scoring import (
    HUNDRED,
    POINTS,
    SHARE,
    ComponentExplanation,
    HealthResult,
    WeightedScore,
    score,
    weigh,
)
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
from fourfold.health.domain.trend import Trend, trend, trend_instants
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


# ------------------------------------------------------------------ the lean paths
# `next_time_change`, `trend` and `weigh` were rewritten (session 7) to do less work per
# rescore: one scan of the usage series instead of three instants per day, no per-call lists
# and closures, no frozen constructor per component. The plain definitions they replaced are
# kept below as the specification: the lean ones must answer exactly the same, to the
# Decimal exponent.

overrides = st.none() | st.builds(
    lambda set_at, days, score: ManualOverride(
        reason="r", set_at=set_at, expires_at=set_at + timedelta(days=days), score=score
    ),
    hours,
    st.integers(1, 40),
    st.integers(0, 100),
)
scorecards = st.sampled_from([DEFAULT, FLAT])


# ------------------------------------------------------------------ the plain definitions


def _midnight(day: object) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)  # type: ignore[arg-type]


def _instants(
    signals: CustomerSignals, scorecard: Scorecard, override: ManualOverride | None
) -> Iterator[datetime]:
    components, rules = scorecard.components, scorecard.lifecycle
    if components.engagement is not None or signals.seats_bought in (None, 0):
        window = timedelta(days=components.engagement.window_days if components.engagement else 0)
        for day, _ in signals.active_users:
            entered = _midnight(day)
            yield from (entered, entered + window, entered + 2 * window)
    yield from signals.milestones.values()
    start = signals.subscription_start
    if start is not None:
        yield start
        if components.implementation is not None:
            for due_day in components.implementation.expected_by_day.values():
                yield start + timedelta(days=due_day)
    if components.sentiment is not None and signals.sentiment is not None:
        yield signals.sentiment.at
        yield signals.sentiment.at + timedelta(days=components.sentiment.max_age_days)
    for expansion in signals.expansions:
        yield expansion.at
        yield expansion.at + timedelta(days=rules.recent_expansion_days)
    if signals.term_end is not None:
        yield signals.term_end - timedelta(days=rules.renewal_window_days)
        yield signals.term_end
    if signals.cancel_effective is not None:
        yield signals.cancel_effective
    if override is not None:
        yield override.set_at
        yield override.expires_at


def plain_next_time_change(
    signals: CustomerSignals, scorecard: Scorecard, as_of: datetime, override: ManualOverride | None
) -> datetime | None:
    return min((i for i in _instants(signals, scorecard, override) if i > as_of), default=None)


def plain_trend(
    history: Iterable[tuple[datetime, int | None]], current: int | None, as_of: datetime
) -> Trend:
    points = list(history)

    def change(at: datetime) -> int | None:
        before = [p for p in points if p[0] <= at]
        past = max(before, key=lambda p: p[0])[1] if before else None
        return None if past is None or current is None else current - past

    week, month = (change(at) for at in trend_instants(as_of))
    return Trend(change_7d=week, change_30d=month)


def plain_weigh(
    readings: tuple[ComponentReading, ...], scorecard: Scorecard, step: object
) -> WeightedScore:
    weights = scorecard.weights[step]  # type: ignore[index]
    total = sum((weights[r.name] for r in readings if r.score is not None), Decimal(0))
    weighted = sum((weights[r.name] * r.score for r in readings if r.score is not None), Decimal(0))
    raw = None if total == 0 else weighted * HUNDRED / total

    def explain(r: ComponentReading) -> ComponentExplanation:
        weight = weights[r.name]
        share = Decimal(0) if r.score is None or total == 0 else weight / total
        return ComponentExplanation(
            name=r.name,
            available=r.available,
            inputs=r.inputs,
            score=None if r.score is None else r.score.quantize(SHARE, ROUND_HALF_UP),
            weight=weight,
            effective_weight=share.quantize(SHARE, ROUND_HALF_UP),
            contribution=(share * (r.score or 0) * HUNDRED).quantize(POINTS, ROUND_HALF_UP),
        )

    final = None if raw is None else int(raw.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return WeightedScore(final, tuple(explain(r) for r in readings))


def _exactly(explained: tuple[ComponentExplanation, ...]) -> list[tuple[object, ...]]:
    """Every field, Decimals as their text (so 0 and 0.0000 differ)."""
    return [
        tuple(str(v) if isinstance(v, Decimal) else v for v in vars(c).values()) for c in explained
    ]


# ------------------------------------------------------------------ the properties


@given(customers(), scorecards, hours, overrides, st.randoms())
def test_next_time_change_is_the_earliest_instant_after_as_of(
    customer: CustomerSignals,
    card: Scorecard,
    as_of: datetime,
    override: ManualOverride | None,
    shuffler: random.Random,
) -> None:
    expected = plain_next_time_change(customer, card, as_of, override)
    assert next_time_change(customer, card, as_of, override) == expected
    # the scan does not rely on the series being sorted
    series = list(customer.active_users)
    shuffler.shuffle(series)
    shuffled = evolve(customer, active_users=tuple(series))
    assert next_time_change(shuffled, card, as_of, override) == expected


history = st.lists(st.tuples(hours, st.none() | st.integers(0, 100)), max_size=5)


@given(history, st.none() | st.integers(0, 100), hours)
def test_trend_is_the_change_against_the_point_in_force(
    points: list[tuple[datetime, int | None]], current: int | None, as_of: datetime
) -> None:
    assert trend(points, current, as_of) == plain_trend(points, current, as_of)
    assert trend(iter(points), current, as_of) == plain_trend(points, current, as_of)


@given(customers(), scorecards, hours, st.sets(st.sampled_from(list(ComponentName))))
def test_weigh_gives_every_explanation_field_exactly(
    customer: CustomerSignals, card: Scorecard, as_of: datetime, zero: set[ComponentName]
) -> None:
    step = lifecycle_step(customer, card.lifecycle, as_of).step
    readings = read_components(customer, card, as_of)
    lean, plain = weigh(readings, card, step), plain_weigh(readings, card, step)
    assert lean.score == plain.score
    assert _exactly(lean.components) == _exactly(plain.components)
    # weights of zero (a total of zero included) take the same shortcut
    data = card.model_dump()
    for name in zero:
        data["components"][name.value] = {**data["components"][name.value], "weight": 0}
        data["components"][name.value]["weights_by_step"] = {}
    try:
        zeroed = Scorecard.model_validate(data)
    except ValueError:
        return  # every weight zero for some step: not a valid scorecard
    lean, plain = weigh(readings, zeroed, step), plain_weigh(readings, zeroed, step)
    assert (lean.score, _exactly(lean.components)) == (plain.score, _exactly(plain.components))


def test_an_unavailable_component_contributes_zero_points() -> None:
    reading = ComponentReading(ComponentName.PAYMENT, None)
    step = lifecycle_step(_blank(), DEFAULT.lifecycle, _T).step
    (explained,) = weigh([reading], DEFAULT, step).components
    assert (explained.available, explained.effective_weight, explained.contribution) == (
        False,
        Decimal("0.0000"),
        Decimal("0.00"),
    )
    assert Band.UNKNOWN is DEFAULT.bands.band_for(None)


_T = datetime(2025, 6, 30, tzinfo=UTC)


def _blank() -> CustomerSignals:
    return CustomerSignals(customer_id="c", partner_id="p")
