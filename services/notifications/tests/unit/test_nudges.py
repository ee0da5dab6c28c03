"""Open / update / resolve decisions, snooze and its end, and re-raising only after a clear;
hypothesis: whatever the order and duplication of inputs, one open nudge per (customer, rule)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fourfold.notifications.domain.nudges import (
    ACTIVE,
    Action,
    Current,
    InvalidTransition,
    MarkCleared,
    Raise,
    Resolve,
    Status,
    UpdateFacts,
    Wake,
    decide,
    partner_action,
)
from fourfold.notifications.domain.rules import Fired

NOW = datetime(2026, 6, 1, tzinfo=UTC)
FIRED = Fired({"days": 21})


def current(
    status: Status, *, until: datetime | None = None, facts: dict[str, int] | None = None
) -> Current:
    return Current("n-1", status, facts if facts is not None else {"days": 21}, until)


@pytest.mark.parametrize(
    ("fired", "now_current", "expected"),
    [
        (FIRED, None, Raise({"days": 21})),
        (None, None, None),
        (FIRED, current(Status.OPEN), None),  # same facts: nothing
        (FIRED, current(Status.OPEN, facts={"days": 20}), UpdateFacts({"days": 21})),
        (FIRED, current(Status.ACKNOWLEDGED, facts={"days": 20}), UpdateFacts({"days": 21})),
        (None, current(Status.OPEN), Resolve()),
        (None, current(Status.ACKNOWLEDGED), Resolve()),
        (None, current(Status.SNOOZED, until=NOW + timedelta(days=1)), Resolve()),
        (FIRED, current(Status.SNOOZED, until=NOW + timedelta(seconds=1)), None),  # still snoozed
        (FIRED, current(Status.SNOOZED, until=NOW), Wake({"days": 21})),  # the snooze ends now
        (FIRED, current(Status.SNOOZED, until=NOW - timedelta(days=1)), Wake({"days": 21})),
        (FIRED, current(Status.RESOLVED), None),  # resolved by hand, condition still true
        (None, current(Status.RESOLVED), MarkCleared()),  # now it may come back
    ],
)
def test_decide(fired: Fired | None, now_current: Current | None, expected: object) -> None:
    assert decide(fired, now_current, NOW) == expected


@pytest.mark.parametrize(
    ("status", "action", "until", "after"),
    [
        (Status.OPEN, Action.ACKNOWLEDGE, None, Status.ACKNOWLEDGED),
        (Status.SNOOZED, Action.ACKNOWLEDGE, None, Status.ACKNOWLEDGED),
        (Status.OPEN, Action.SNOOZE, NOW + timedelta(seconds=1), Status.SNOOZED),
        (Status.ACKNOWLEDGED, Action.RESOLVE, None, Status.RESOLVED),
    ],
)
def test_partner_actions(
    status: Status, action: Action, until: datetime | None, after: Status
) -> None:
    assert partner_action(status, action, now=NOW, until=until).status is after


@pytest.mark.parametrize(
    ("status", "action", "until"),
    [
        (Status.RESOLVED, Action.ACKNOWLEDGE, None),
        (Status.RESOLVED, Action.SNOOZE, NOW + timedelta(days=1)),
        (Status.OPEN, Action.SNOOZE, NOW),  # a snooze must end in the future
        (Status.OPEN, Action.SNOOZE, None),
    ],
)
def test_refused_actions(status: Status, action: Action, until: datetime | None) -> None:
    with pytest.raises(InvalidTransition):
        partner_action(status, action, now=NOW, until=until)


@dataclass
class Store:
    """A model of the nudge table: every nudge of every (customer, rule), the decisions applied."""

    nudges: dict[tuple[str, str], list[Current]] = field(default_factory=dict)
    raised: int = 0

    def apply(self, key: tuple[str, str], fired: bool, now: datetime) -> None:
        history = self.nudges.setdefault(key, [])
        now_current = history[-1] if history and history[-1].nudge_id != "cleared" else None
        decision = decide(Fired({"x": 1}) if fired else None, now_current, now)
        match decision:
            case Raise():
                self.raised += 1
                history.append(Current(f"n{self.raised}", Status.OPEN, {"x": 1}))
            case Wake() | UpdateFacts():
                history[-1] = replace(history[-1], status=Status.OPEN)
            case Resolve():
                history[-1] = replace(history[-1], status=Status.RESOLVED, nudge_id="cleared")
            case MarkCleared():
                history[-1] = replace(history[-1], nudge_id="cleared")

    def partner(self, key: tuple[str, str], action: Action, now: datetime) -> None:
        history = self.nudges.get(key, [])
        if not history or history[-1].nudge_id == "cleared":
            return
        try:
            moved = partner_action(
                history[-1].status, action, now=now, until=now + timedelta(hours=1)
            )
        except InvalidTransition:
            return
        history[-1] = replace(history[-1], status=moved.status, snoozed_until=moved.snoozed_until)


inputs = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c2"]),
        st.sampled_from(["implement_stalled", "payment_failed"]),
        st.one_of(st.booleans(), st.sampled_from(list(Action))),
        st.integers(min_value=0, max_value=7200),
    ),
    max_size=60,
)


@given(inputs, st.integers(min_value=1, max_value=3))
def test_at_most_one_open_nudge_per_customer_and_rule(
    steps: list[tuple[str, str, bool | Action, int]], copies: int
) -> None:
    store = Store()
    for customer, rule, what, seconds in steps:
        now = NOW + timedelta(seconds=seconds)  # any order of times: late inputs included
        for _ in range(copies):  # and any duplication
            if isinstance(what, Action):
                store.partner((customer, rule), what, now)
            else:
                store.apply((customer, rule), what, now)
        for history in store.nudges.values():
            assert sum(n.status in ACTIVE for n in history) <= 1


@given(st.lists(st.booleans(), max_size=40), st.integers(min_value=1, max_value=3))
def test_a_nudge_is_raised_once_per_time_the_condition_starts_holding(
    answers: list[bool], copies: int
) -> None:
    store = Store()
    for answer in answers:
        for _ in range(copies):
            store.apply(("c", "r"), answer, NOW)
    starts = sum(1 for i, a in enumerate(answers) if a and (i == 0 or not answers[i - 1]))
    assert store.raised == starts
