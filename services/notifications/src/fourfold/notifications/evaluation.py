"""The one use case every writer shares: evaluate snapshots, apply the nudge decisions.

The consumer calls it for the customers of a batch, the scheduler for a chunk of all
snapshots, in their own transaction; it reads the current nudges of the customers in one
query, decides per (customer, rule) with the pure domain, writes the changes, routes the
raised nudges and those back from a snooze (deliveries, digest) and returns the
`nudge.raised` / `nudge.resolved` events for the caller's outbox. A nudge back from a snooze
is delivered again in its next round, which only the writer whose conditional update moved
it out of `snoozed` starts: a repeated pass or a replayed event finds it open already.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.events import Envelope, NudgeRaised, NudgeResolved
from fourfold.notifications import dispatch, repository
from fourfold.notifications.domain.config import ConfigError, RuleConfig, RuleName
from fourfold.notifications.domain.nudges import (
    Decision,
    MarkCleared,
    Raise,
    Resolve,
    Status,
    UpdateFacts,
    Wake,
    decide,
)
from fourfold.notifications.domain.rules import evaluate, next_due
from fourfold.notifications.domain.snapshot import Snapshot
from fourfold.notifications.domain.templates import Templates
from fourfold.notifications.metrics import NUDGES_RAISED, NUDGES_RESOLVED

SOURCE = "fourfold/notifications"


@dataclass(frozen=True, slots=True)
class Ruleset:
    """The loaded configuration and its compiled templates (built once, at start)."""

    config: RuleConfig
    templates: Templates

    @classmethod
    def of(cls, config: RuleConfig) -> Ruleset:
        return cls(config, Templates(config))

    def shown(self, row: Mapping[str, Any], now: datetime) -> Mapping[str, Any]:
        """The nudge as a reader sees it at `now`: one not resolved has its title and next
        step rendered again from its facts (their day counts move on without a write); a
        resolved one, or one whose stored facts the templates cannot render, keeps its
        stored texts."""
        if row["status"] == Status.RESOLVED.value:
            return row
        try:
            text = self.templates.render(
                RuleName(row["rule"]),
                customer_id=row["customer_id"],
                partner_id=row["partner_id"],
                facts=row["facts"],
                severity=row["severity"],
                now=now,
            )
        except (ValueError, ConfigError):
            return row
        return {**row, "title": text.title, "next_step": text.next_step}


def raised_event(row: dict[str, Any]) -> NudgeRaised:
    """The nudge as its contract: rule, severity, the facts that fired it, the next step."""
    return NudgeRaised.model_validate(
        {
            "id": row["nudge_id"],
            "source": SOURCE,
            "type": "nudge.raised",
            "time": row["raised_at"],
            "data": {
                "nudge_id": row["nudge_id"],
                "partner_id": row["partner_id"],
                "customer_id": row["customer_id"],
                "rule": row["rule"],
                "severity": row["severity"],
                "title": row["title"],
                "message": row["next_step"],
                "raised_at": row["raised_at"],
                "facts": row["facts"],
                "next_step": row["next_step"],
            },
        }
    )


def resolved_event(
    *, nudge_id: str, partner_id: str, customer_id: str, rule: str, resolution: str, now: datetime
) -> NudgeResolved:
    return NudgeResolved.model_validate(
        {
            "id": f"{nudge_id}.resolved",
            "source": SOURCE,
            "type": "nudge.resolved",
            "time": now,
            "data": {
                "nudge_id": nudge_id,
                "partner_id": partner_id,
                "customer_id": customer_id,
                "rule": rule,
                "resolution": resolution,
                "resolved_at": now,
            },
        }
    )


Planned = list[tuple[Snapshot, RuleName, Decision, "repository.CurrentNudge | None"]]


def plan(
    items: Sequence[Snapshot],
    currents: dict[tuple[str, RuleName], repository.CurrentNudge],
    config: RuleConfig,
    now: datetime,
) -> Planned:
    """Every (snapshot, rule) whose nudge must change, with the decision (pure)."""
    planned: Planned = []
    for snapshot in items:
        for rule, fired in evaluate(snapshot, config, now).items():
            found = currents.get((snapshot.customer_id, rule))
            if found is not None and found.partner_id != snapshot.partner_id:
                # the customer moved to another partner: the old one's nudge ends here and
                # the new partner gets its own (the old partner never sees what follows)
                moved = (
                    MarkCleared() if found.current.status is Status.RESOLVED else Resolve("expired")
                )
                planned.append((snapshot, rule, moved, found))
                found = None
            decision = decide(fired, None if found is None else found.current, now)
            if decision is not None:
                planned.append((snapshot, rule, decision, found))
    return planned


async def stale(
    session: AsyncSession,
    items: Sequence[tuple[Snapshot, datetime | None]],
    *,
    ruleset: Ruleset,
    now: datetime,
) -> list[str]:
    """The customers among `items` (each with its stored `next_due_at`) whose nudges would
    change now, or whose next due instant would (read only): a pass walking all snapshots
    locks and re-evaluates just those, so where nothing changes it writes nothing."""
    snaps = [s for s, _ in items]
    currents = await repository.current_nudges(session, [s.customer_id for s in snaps])
    found = {s.customer_id for s, *_ in plan(snaps, currents, ruleset.config, now)}
    found |= {s.customer_id for s, due in items if next_due(s, ruleset.config, now) != due}
    return sorted(found)


async def reevaluate(
    session: AsyncSession, items: Sequence[Snapshot], *, ruleset: Ruleset, now: datetime
) -> list[Envelope]:
    """Apply every rule to every snapshot; return the events to publish."""
    if not items:
        return []
    config = ruleset.config
    currents = await repository.current_nudges(session, [s.customer_id for s in items])
    raised: list[dict[str, Any]] = []
    updated: list[tuple[str, dict[str, Any]]] = []
    woken: list[dict[str, Any]] = []
    resolved: list[tuple[repository.CurrentNudge, str]] = []
    cleared: list[str] = []
    for snapshot, rule, decision, found in plan(items, currents, config, now):
        match decision:
            case Raise(facts=new):
                raised.append(_new_nudge(snapshot, rule, dict(new), ruleset, now))
            case UpdateFacts(facts=new):
                assert found is not None  # its texts follow its facts, as at a raise or a wake
                updated.append(
                    (found.current.nudge_id, _text(snapshot, rule, dict(new), ruleset, now))
                )
            case Wake(facts=new):
                assert found is not None
                values = _text(snapshot, rule, dict(new), ruleset, now)
                row = await repository.wake(session, found.current.nudge_id, values=values, now=now)
                if row is not None:  # None: another writer started this round already
                    woken.append(row)
            case Resolve(resolution=resolution):
                assert found is not None
                resolved.append((found, resolution))
            case MarkCleared():
                assert found is not None
                cleared.append(found.current.nudge_id)
    await repository.update_facts(session, updated, now)
    for resolution in sorted({r for _, r in resolved}):
        await repository.resolve_nudges(
            session,
            [f.current.nudge_id for f, r in resolved if r == resolution],
            resolution=resolution,
            now=now,
            cleared=True,
        )
    await repository.mark_cleared(session, cleared, now)
    # raised and woken nudges are routed together: one allowance taken per partner
    sent = raised + woken
    channels = await dispatch.route(session, sent, policy=config.delivery, now=now)
    await repository.insert_nudges(session, raised)
    await repository.set_routing(session, woken)
    await dispatch.write_routes(session, sent, found=channels, policy=config.delivery, now=now)
    events: list[Envelope] = [raised_event(row) for row in raised]
    events += [
        resolved_event(
            nudge_id=f.current.nudge_id,
            partner_id=f.partner_id,
            customer_id=f.customer_id,
            rule=f.rule.value,
            resolution=resolution,
            now=now,
        )
        for f, resolution in resolved
    ]
    for row in raised:
        NUDGES_RAISED.labels(row["rule"]).inc()
    for f, resolution in resolved:
        NUDGES_RESOLVED.labels(f.rule.value, resolution).inc()
    return events


def _new_nudge(
    snapshot: Snapshot, rule: RuleName, facts: dict[str, Any], ruleset: Ruleset, now: datetime
) -> dict[str, Any]:
    return {
        "nudge_id": f"ndg_{uuid.uuid4().hex}",
        "customer_id": snapshot.customer_id,
        "partner_id": snapshot.partner_id or "",
        "rule": rule.value,
        "status": Status.OPEN.value,
        **_text(snapshot, rule, facts, ruleset, now),
        "raised_at": now,
        "updated_at": now,
        "routing": "feed",
        "delivery_round": 1,
    }


def _text(
    snapshot: Snapshot, rule: RuleName, facts: dict[str, Any], ruleset: Ruleset, now: datetime
) -> dict[str, Any]:
    """Severity, facts, title and next step, rendered from the facts as they are at `now`."""
    settings = ruleset.config.rules.text(rule)
    text = ruleset.templates.render(
        rule,
        customer_id=snapshot.customer_id,
        partner_id=snapshot.partner_id or "",
        facts=facts,
        severity=settings.severity,
        now=now,
    )
    return {
        "severity": settings.severity,
        "facts": facts,
        "title": text.title,
        "next_step": text.next_step,
    }
