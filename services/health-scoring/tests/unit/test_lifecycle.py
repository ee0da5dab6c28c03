"""Lifecycle step rules: Involve, Implement, Improve, Increase."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fourfold.health.domain.lifecycle import lifecycle_step
from fourfold.health.domain.scorecard import LifecycleStep, default_scorecard
from fourfold.health.domain.signals import CustomerSignals, Expansion, ExpansionKind, Milestone

AS_OF = datetime(2025, 6, 30, 12, tzinfo=UTC)
RULES = default_scorecard().lifecycle
CORE = dict.fromkeys(
    (Milestone.KICKOFF, Milestone.CONFIGURED, Milestone.FIRST_VALUE), AS_OF - timedelta(days=50)
)
LIVE = CustomerSignals(
    customer_id="c1",
    partner_id="p1",
    subscription_start=AS_OF - timedelta(days=100),
    term_end=AS_OF + timedelta(days=265),
    seats_bought=10,
    seats_in_use=6,
    milestones=CORE,
)


def live(**changes: Any) -> CustomerSignals:
    return dataclasses.replace(LIVE, **changes)


@pytest.mark.parametrize(
    ("customer", "step", "reason"),
    [
        (live(subscription_start=None), LifecycleStep.INVOLVE, "no subscription yet"),
        (live(subscription_start=AS_OF + timedelta(days=1)), LifecycleStep.INVOLVE, "starts"),
        (live(seats_in_use=4), LifecycleStep.IMPLEMENT, "not activated yet"),
        (
            live(milestones={**CORE, Milestone.FIRST_VALUE: AS_OF + timedelta(days=1)}),
            LifecycleStep.IMPLEMENT,
            "missing milestone first_value",
        ),
        (live(seats_bought=None, active_users=()), LifecycleStep.IMPLEMENT, "not activated"),
        (
            live(seats_bought=None, active_users=((AS_OF.date(), 2),)),
            LifecycleStep.IMPROVE,
            "activated",
        ),
        (live(), LifecycleStep.IMPROVE, "activated"),
        (live(seats_in_use=9), LifecycleStep.INCREASE, "utilisation 0.90"),
        (
            live(expansions=(Expansion(ExpansionKind.ADDON, AS_OF - timedelta(days=89)),)),
            LifecycleStep.INCREASE,
            "expansion within 90 days",
        ),
        (
            live(expansions=(Expansion(ExpansionKind.ADDON, AS_OF - timedelta(days=90)),)),
            LifecycleStep.IMPROVE,
            "activated",
        ),
        (live(term_end=AS_OF + timedelta(days=90)), LifecycleStep.INCREASE, "renewal window"),
        (live(term_end=AS_OF + timedelta(days=91)), LifecycleStep.IMPROVE, "activated"),
        (live(term_end=AS_OF), LifecycleStep.IMPROVE, "activated"),  # term over
    ],
)
def test_step_rules(customer: CustomerSignals, step: LifecycleStep, reason: str) -> None:
    decision = lifecycle_step(customer, RULES, AS_OF)
    assert decision.step is step
    assert any(reason in r for r in decision.reasons), decision.reasons


def test_step_rules_are_configurable() -> None:
    strict = RULES.model_copy(update={"core_milestones": frozenset(Milestone)})
    assert lifecycle_step(LIVE, strict, AS_OF).step is LifecycleStep.IMPLEMENT
    eager = RULES.model_copy(update={"renewal_window_days": 400})
    assert lifecycle_step(LIVE, eager, AS_OF).step is LifecycleStep.INCREASE
