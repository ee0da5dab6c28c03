"""The life of a nudge: open, update facts, resolve; snooze and its end; re-raise rules.

`decide` compares a rule's answer for a customer with the *current* nudge of that
(customer, rule): the one not resolved yet, or resolved by the partner while its condition
still held ("uncleared"). Only when the condition clears does that resolved nudge become
cleared, and only then may the condition returning raise a new one. So a partner who
resolves a nudge is not nagged again by the same still-true condition.

    condition holds   no current → Raise          open/acknowledged → UpdateFacts (if changed)
                      snoozed, snooze over → Wake  snoozed, not over → UpdateFacts (if changed)
                      resolved, uncleared → nothing
    condition clear   open/ack/snoozed → Resolve   resolved, uncleared → MarkCleared
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fourfold.notifications.domain.rules import Facts, Fired


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


ACTIVE = frozenset({Status.OPEN, Status.ACKNOWLEDGED, Status.SNOOZED})


@dataclass(frozen=True, slots=True)
class Current:
    """The current nudge of one (customer, rule), as the decisions need it."""

    nudge_id: str
    status: Status
    facts: Facts
    snoozed_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Raise:
    facts: Facts


@dataclass(frozen=True, slots=True)
class UpdateFacts:
    facts: Facts


@dataclass(frozen=True, slots=True)
class Wake:
    """The snooze ended and the condition still holds: open again, delivered again."""

    facts: Facts


@dataclass(frozen=True, slots=True)
class Resolve:
    resolution: str = "condition_cleared"


@dataclass(frozen=True, slots=True)
class MarkCleared:
    """A nudge the partner resolved: its condition has now cleared, so it may come back."""


Decision = Raise | UpdateFacts | Wake | Resolve | MarkCleared


def decide(fired: Fired | None, current: Current | None, now: datetime) -> Decision | None:
    """What to do with one (customer, rule) given the rule's answer now."""
    if fired is None:
        if current is None:
            return None
        if current.status is Status.RESOLVED:
            return MarkCleared()
        return Resolve()
    if current is None:
        return Raise(fired.facts)
    if current.status is Status.RESOLVED:
        return None
    if (
        current.status is Status.SNOOZED
        and current.snoozed_until is not None
        and current.snoozed_until <= now
    ):
        return Wake(fired.facts)
    if dict(current.facts) != dict(fired.facts):
        return UpdateFacts(fired.facts)
    return None


class InvalidTransition(ValueError):
    """A partner action the nudge's status does not allow (e.g. snoozing a resolved one)."""


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    SNOOZE = "snooze"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Transition:
    status: Status
    snoozed_until: datetime | None


def partner_action(
    status: Status, action: Action, *, now: datetime, until: datetime | None = None
) -> Transition:
    """The status after a partner's action; refuses actions on a resolved nudge and a
    snooze that does not end in the future."""
    if status is Status.RESOLVED:
        raise InvalidTransition(f"the nudge is resolved; it cannot be {action.value}d")
    if action is Action.ACKNOWLEDGE:
        return Transition(Status.ACKNOWLEDGED, None)
    if action is Action.RESOLVE:
        return Transition(Status.RESOLVED, None)
    if until is None or until <= now:
        raise InvalidTransition("a snooze must end in the future")
    return Transition(Status.SNOOZED, until)
