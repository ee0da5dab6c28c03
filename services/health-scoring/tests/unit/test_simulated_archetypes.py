"""The simulator's archetypes, scored by health-scoring's own folds and default scorecard.

The demo is only believable if each archetype looks to the scorecard like what it is: the
good onboarders, expanders and renewers green and past Implement, the stallers stuck in
Implement and not green, the early churners red, the late payers marked down for it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

import orjson
import pytest

from fourfold.events import Envelope, InvoicePaymentFailed, parse_input_event
from fourfold.events.derived import Band, LifecycleStep
from fourfold.health.domain.scorecard import ComponentName, default_scorecard
from fourfold.health.domain.scoring import HealthResult, score
from fourfold.health.folding import customer_of, fold_events
from fourfold.health.state import CustomerState
from fourfold.simulator.archetypes import Archetype
from fourfold.simulator.timeline import Timeline
from fourfold.simulator.vendor import build_vendor

START = date(2026, 1, 5)
DAYS = 365


@pytest.fixture(scope="module")
def run() -> tuple[Timeline, dict[str, list[Envelope]]]:
    vendor = build_vendor(seed=11, partners=14, customers=120, signup_days=60)
    timeline = Timeline(vendor, start=START)
    events: dict[str, list[Envelope]] = defaultdict(list)
    for planned in timeline.events(DAYS):
        event = parse_input_event(orjson.dumps(planned.event))
        customer = customer_of(event)
        if customer is not None:
            events[customer].append(event)
    return timeline, events


def _health_at(
    run: tuple[Timeline, dict[str, list[Envelope]]], archetype: Archetype, age: int
) -> list[HealthResult]:
    """Every customer of the archetype, scored at noon of day `age` of its subscription."""
    timeline, events = run
    found = []
    for contract in timeline.contracts:
        if contract.customer.archetype is not archetype:
            continue
        as_of = datetime.combine(contract.start + timedelta(days=age), time(12), tzinfo=UTC)
        assert as_of.date() < START + timedelta(days=DAYS), "scored inside the run"
        seen = [e for e in events[contract.customer.customer_id] if e.time <= as_of]
        state = fold_events(CustomerState.new(contract.customer.customer_id), seen)
        found.append(score(state.signals, default_scorecard(), as_of))
    assert found, f"no {archetype} customer"
    return found


@pytest.mark.parametrize("archetype", [Archetype.ONBOARDS_WELL, Archetype.RENEWS])
@pytest.mark.parametrize("age", [75, 150, 250])
def test_good_onboarders_are_green_and_past_implement(
    run: tuple[Timeline, dict[str, list[Envelope]]], archetype: Archetype, age: int
) -> None:
    for health in _health_at(run, archetype, age):
        assert health.band is Band.GREEN, health
        assert health.step is not LifecycleStep.IMPLEMENT, health.step_reasons


@pytest.mark.parametrize("age", [130, 200])
def test_expanders_are_green_and_an_increase_opportunity_after_expanding(
    run: tuple[Timeline, dict[str, list[Envelope]]], age: int
) -> None:
    results = _health_at(run, Archetype.EXPANDS, age)
    assert all(h.band is Band.GREEN for h in results)
    increase = [h for h in results if h.step is LifecycleStep.INCREASE]
    assert len(increase) >= 0.8 * len(results), [h.step_reasons for h in results]


@pytest.mark.parametrize("age", [20, 60, 120, 280])
def test_stallers_never_leave_implement_and_are_not_green_once_it_drags(
    run: tuple[Timeline, dict[str, list[Envelope]]], age: int
) -> None:
    for health in _health_at(run, Archetype.STALLS_IN_IMPLEMENT, age):
        assert health.step is LifecycleStep.IMPLEMENT
        assert "not activated yet" in health.step_reasons
        if age >= 60:
            assert health.band is not Band.GREEN, health.score


def test_early_churners_are_red_once_gone(
    run: tuple[Timeline, dict[str, list[Envelope]]],
) -> None:
    for health in _health_at(run, Archetype.CHURNS_EARLY, 100):
        assert health.band is Band.RED, health.score


def test_a_late_payer_is_marked_down_while_an_invoice_is_unpaid(
    run: tuple[Timeline, dict[str, list[Envelope]]],
) -> None:
    timeline, events = run
    late = [c for c in timeline.contracts if c.customer.archetype is Archetype.PAYS_LATE]
    assert late
    for contract in late:
        history = events[contract.customer.customer_id]
        failure = next(e for e in history if isinstance(e, InvoicePaymentFailed))
        as_of = failure.time + timedelta(hours=1)
        state = fold_events(
            CustomerState.new(contract.customer.customer_id),
            [e for e in history if e.time <= as_of],
        )
        payment = next(
            c
            for c in score(state.signals, default_scorecard(), as_of).components
            if c.name is ComponentName.PAYMENT
        )
        assert payment.score is not None
        assert payment.score < 1
