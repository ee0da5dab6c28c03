"""Write-side SQL: snapshots, nudges, channels, the throttle, digests and deliveries.

Every function takes the caller's session and never commits: the consumer runtime, the
scheduler's chunk or the route owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, union, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.db.bulk import any_of
from fourfold.notifications.domain.config import RuleConfig, RuleName
from fourfold.notifications.domain.nudges import Current, Status
from fourfold.notifications.domain.rules import next_due
from fourfold.notifications.domain.snapshot import Snapshot, from_json, to_json
from fourfold.notifications.models import (
    channels,
    deliveries,
    digest_items,
    digests,
    nudges,
    partner_quota,
    snapshots,
)


async def lock_snapshots(session: AsyncSession, customer_ids: Iterable[str]) -> dict[str, Snapshot]:
    """The stored snapshots of these customers, locked for the transaction."""
    ids = sorted(set(customer_ids))
    query = (
        select(snapshots.c.customer_id, snapshots.c.doc)
        .where(snapshots.c.customer_id == any_of(ids))
        .order_by(snapshots.c.customer_id)
        .with_for_update()
    )
    rows = (await session.execute(query)).all()
    return {row.customer_id: from_json(row.customer_id, row.doc) for row in rows}


async def snapshot_chunk(
    session: AsyncSession, *, after: str | None, limit: int
) -> list[tuple[Snapshot, datetime | None]]:
    """The next `limit` snapshots in customer order after `after`, each with its stored
    `next_due_at`, read without a lock."""
    query = select(snapshots.c.customer_id, snapshots.c.doc, snapshots.c.next_due_at)
    if after is not None:
        query = query.where(snapshots.c.customer_id > after)
    rows = (await session.execute(query.order_by(snapshots.c.customer_id).limit(limit))).all()
    return [(from_json(customer_id, doc), due) for customer_id, doc, due in rows]


async def due_snapshots(
    session: AsyncSession,
    *,
    now: datetime,
    after: str | None = None,
    limit: int | None = None,
    among: Sequence[str] | None = None,
) -> list[Snapshot]:
    """The snapshots in customer order after `after` that are due at `now` (`next_due_at`
    passed, or a nudge whose snooze is over), or those `among` these customers, locked,
    skipping rows a consumer batch holds (that batch evaluates them itself)."""
    query = select(snapshots.c.customer_id, snapshots.c.doc)
    if among is not None:
        query = query.where(snapshots.c.customer_id == any_of(list(among)))
    else:
        woken = select(nudges.c.customer_id).where(
            nudges.c.status == Status.SNOOZED.value, nudges.c.snoozed_until <= now
        )
        due = select(snapshots.c.customer_id).where(snapshots.c.next_due_at <= now)
        if after is not None:
            woken = woken.where(nudges.c.customer_id > after)
            due = due.where(snapshots.c.customer_id > after)
        query = query.where(snapshots.c.customer_id.in_(union(due, woken)))
    query = query.order_by(snapshots.c.customer_id).limit(limit)
    rows = (await session.execute(query.with_for_update(skip_locked=True))).all()
    return [from_json(customer_id, doc) for customer_id, doc in rows]


async def set_due(
    session: AsyncSession, items: Sequence[Snapshot], config: RuleConfig, now: datetime
) -> None:
    """Record when each of these snapshots, just evaluated at `now`, is next due."""
    if items:
        await session.execute(
            text(
                "UPDATE snapshots AS s SET next_due_at = d.due"
                " FROM unnest(CAST(:ids AS text[]), CAST(:dues AS timestamptz[]))"
                " AS d(customer_id, due) WHERE s.customer_id = d.customer_id"
            ),
            {
                "ids": [i.customer_id for i in items],
                "dues": [next_due(i, config, now) for i in items],
            },
        )


async def save_snapshots(
    session: AsyncSession, items: Sequence[Snapshot], config: RuleConfig, now: datetime
) -> None:
    """Store the snapshots, each with when it is next due (they are evaluated at `now`)."""
    if not items:
        return
    statement = insert(snapshots)
    statement = statement.on_conflict_do_update(
        index_elements=[snapshots.c.customer_id],
        set_={
            "partner_id": statement.excluded.partner_id,
            "doc": statement.excluded.doc,
            "updated_at": statement.excluded.updated_at,
            "next_due_at": statement.excluded.next_due_at,
        },
    )
    await session.execute(
        statement,
        [
            {
                "customer_id": s.customer_id,
                "partner_id": s.partner_id,
                "doc": to_json(s),
                "updated_at": now,
                "next_due_at": next_due(s, config, now),
            }
            for s in items
        ],
    )


_RULES_BY_VALUE = {rule.value: rule for rule in RuleName}
_STATUSES_BY_VALUE = {status.value: status for status in Status}


@dataclass(frozen=True, slots=True)
class CurrentNudge:
    """A nudge row not cleared yet, with what the decisions and the events need."""

    current: Current
    customer_id: str
    partner_id: str
    rule: RuleName


async def current_nudges(
    session: AsyncSession, customer_ids: Iterable[str]
) -> dict[tuple[str, RuleName], CurrentNudge]:
    """The current (not cleared) nudge of every (customer, rule) of these customers."""
    ids = list(set(customer_ids))
    if not ids:
        return {}
    query = select(
        nudges.c.nudge_id,
        nudges.c.customer_id,
        nudges.c.partner_id,
        nudges.c.rule,
        nudges.c.status,
        nudges.c.facts,
        nudges.c.snoozed_until,
    ).where(nudges.c.customer_id == any_of(ids), nudges.c.cleared_at.is_(None))
    found: dict[tuple[str, RuleName], CurrentNudge] = {}
    rules, statuses = _RULES_BY_VALUE, _STATUSES_BY_VALUE  # a dict look-up, not an enum call
    for nudge_id, customer_id, partner_id, value, status, facts, until in (
        await session.execute(query)
    ).all():
        rule = rules[value]
        found[(customer_id, rule)] = CurrentNudge(
            Current(nudge_id, statuses[status], facts, until), customer_id, partner_id, rule
        )
    return found


async def insert_nudges(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(nudges), list(rows))


async def update_facts(
    session: AsyncSession, changes: Sequence[tuple[str, dict[str, Any]]], now: datetime
) -> None:
    """New facts for open nudges, with the severity, title and next step rendered from them
    (`evaluation._text`), in one executemany."""
    if changes:
        statement = (
            update(nudges)
            .where(nudges.c.nudge_id == bindparam("changed_id"))
            .values(
                facts=bindparam("changed_facts"),
                severity=bindparam("changed_severity"),
                title=bindparam("changed_title"),
                next_step=bindparam("changed_next_step"),
                updated_at=now,
            )
        )
        await session.execute(
            statement,
            [
                {
                    "changed_id": nudge_id,
                    "changed_facts": values["facts"],
                    "changed_severity": values["severity"],
                    "changed_title": values["title"],
                    "changed_next_step": values["next_step"],
                }
                for nudge_id, values in changes
            ],
        )


async def wake(
    session: AsyncSession, nudge_id: str, *, values: dict[str, Any], now: datetime
) -> dict[str, Any] | None:
    """Put a nudge whose snooze is over back to open in its next delivery round, with
    `values` (facts, title, next step); None when it is not such a nudge any more (another
    writer woke it, or the partner moved the snooze on), so a round is only ever started
    once."""
    statement = (
        update(nudges)
        .where(
            nudges.c.nudge_id == nudge_id,
            nudges.c.status == Status.SNOOZED.value,
            nudges.c.snoozed_until <= now,
        )
        .values(
            **values,
            status=Status.OPEN.value,
            snoozed_until=None,
            updated_at=now,
            delivery_round=nudges.c.delivery_round + 1,
        )
        .returning(*nudges.c)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else dict(row._mapping)


async def set_routing(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record how the rows' current round was routed (immediate, digest or feed)."""
    for row in rows:
        await session.execute(
            update(nudges)
            .where(nudges.c.nudge_id == row["nudge_id"])
            .values(routing=row["routing"])
        )


async def resolve_nudges(
    session: AsyncSession,
    nudge_ids: Sequence[str],
    *,
    resolution: str,
    now: datetime,
    cleared: bool,
) -> None:
    """Resolve; `cleared` says the condition itself cleared (so the rule may fire again)."""
    if not nudge_ids:
        return
    values: dict[str, Any] = {
        "status": Status.RESOLVED.value,
        "resolution": resolution,
        "resolved_at": now,
        "updated_at": now,
        "snoozed_until": None,
    }
    if cleared:
        values["cleared_at"] = now
    await session.execute(
        update(nudges).where(nudges.c.nudge_id == any_of(nudge_ids)).values(**values)
    )
    await cancel_pending(session, nudge_ids)


async def mark_cleared(session: AsyncSession, nudge_ids: Sequence[str], now: datetime) -> None:
    if nudge_ids:
        await session.execute(
            update(nudges).where(nudges.c.nudge_id == any_of(nudge_ids)).values(cleared_at=now)
        )


async def lock_nudge(session: AsyncSession, nudge_id: str) -> Any | None:
    query = select(nudges).where(nudges.c.nudge_id == nudge_id).with_for_update()
    return (await session.execute(query)).first()


async def set_status(
    session: AsyncSession,
    nudge_id: str,
    *,
    status: Status,
    snoozed_until: datetime | None,
    now: datetime,
) -> None:
    values: dict[str, Any] = {
        "status": status.value,
        "snoozed_until": snoozed_until,
        "updated_at": now,
    }
    if status is Status.RESOLVED:
        values |= {"resolved_at": now, "resolution": "resolved"}
    await session.execute(update(nudges).where(nudges.c.nudge_id == nudge_id).values(**values))
    if status is Status.RESOLVED:
        await cancel_pending(session, [nudge_id])
    elif status is Status.SNOOZED:
        await cancel_pending(session, [nudge_id], reason=CANCELLED_SNOOZED)


CANCELLED_RESOLVED = "nudge resolved before delivery"
CANCELLED_SNOOZED = "nudge snoozed before delivery"
CANCELLED_SUPERSEDED = "a later delivery round of the nudge superseded it"


async def cancel_pending(
    session: AsyncSession, nudge_ids: Sequence[str], *, reason: str = CANCELLED_RESOLVED
) -> None:
    """A resolved or snoozed nudge is not sent any more, nor retried (the feed still shows
    it, the delivery history shows why). Only `pending` rows (first attempt or a retry
    waiting): a row a worker is claiming is locked, so this waits for that claim and then
    finds it `sending`; an attempt in flight finishes, and if it failed, the worker's next
    claim cancels it instead of retrying (`delivery.worker`)."""
    await session.execute(
        update(deliveries)
        .where(deliveries.c.nudge_id == any_of(nudge_ids), deliveries.c.status == "pending")
        .values(status="cancelled", last_error=reason, lease_until=None)
    )


async def enabled_channels(
    session: AsyncSession, partner_ids: Iterable[str]
) -> dict[str, list[Any]]:
    ids = sorted(set(partner_ids))
    if not ids:
        return {}
    query = (
        select(channels.c.channel_id, channels.c.partner_id, channels.c.kind)
        .where(channels.c.partner_id == any_of(ids), channels.c.enabled.is_(True))
        .order_by(channels.c.partner_id, channels.c.channel_id)
    )
    found: dict[str, list[Any]] = {}
    for row in (await session.execute(query)).all():
        found.setdefault(row.partner_id, []).append(row)
    return found


async def take_quota(
    session: AsyncSession, *, partner_id: str, day: date, wanted: int, limit: int
) -> int:
    """Grant up to `wanted` immediate deliveries of the partner's daily allowance; the row
    lock taken here serializes two replicas planning the same partner."""
    upsert = insert(partner_quota).values(partner_id=partner_id, day=day, used=0)
    locking = upsert.on_conflict_do_update(
        index_elements=[partner_quota.c.partner_id, partner_quota.c.day],
        set_={"used": partner_quota.c.used},
    ).returning(partner_quota.c.used)
    used = int((await session.execute(locking)).scalar_one())
    granted = max(0, min(wanted, limit - used))
    if granted:
        await session.execute(
            update(partner_quota)
            .where(partner_quota.c.partner_id == partner_id, partner_quota.c.day == day)
            .values(used=partner_quota.c.used + granted)
        )
    return granted


async def collecting_digest(
    session: AsyncSession, *, partner_id: str, window_at: datetime, new_id: str
) -> tuple[str, datetime] | None:
    """The partner's digest of `window_at`, created if needed; None when that one was sent
    already (the caller moves to the next window: never into a closed digest)."""
    upsert = insert(digests).values(
        digest_id=new_id, partner_id=partner_id, window_at=window_at, status="collecting", size=0
    )
    locking = upsert.on_conflict_do_update(
        index_elements=[digests.c.partner_id, digests.c.window_at],
        set_={"partner_id": digests.c.partner_id},
    ).returning(digests.c.digest_id, digests.c.status)
    row = (await session.execute(locking)).one()
    return None if row.status != "collecting" else (row.digest_id, window_at)


async def add_digest_items(
    session: AsyncSession, digest_id: str, items: Sequence[tuple[str, int]]
) -> None:
    """Put (nudge, delivery round) items in the digest (a round is in one digest only)."""
    statement = insert(digest_items).on_conflict_do_nothing()
    await session.execute(
        statement,
        [{"digest_id": digest_id, "nudge_id": n, "nudge_round": r} for n, r in items],
    )
    await session.execute(
        update(digests)
        .where(digests.c.digest_id == digest_id)
        .values(
            size=select(func.count()).where(digest_items.c.digest_id == digest_id).scalar_subquery()
        )
    )


async def lock_due_digests(session: AsyncSession, now: datetime, limit: int) -> list[Any]:
    query = (
        select(digests)
        .where(digests.c.status == "collecting", digests.c.window_at <= now)
        .order_by(digests.c.window_at, digests.c.digest_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(query)).all())


async def digest_nudges(session: AsyncSession, digest_id: str) -> list[Any]:
    """The digest's nudges still worth sending: open or acknowledged, in the round the
    digest holds (one resolved, snoozed or back in a later round since is left out)."""
    query = (
        select(nudges)
        .join(digest_items, digest_items.c.nudge_id == nudges.c.nudge_id)
        .where(
            digest_items.c.digest_id == digest_id,
            digest_items.c.nudge_round == nudges.c.delivery_round,
            nudges.c.status.in_([Status.OPEN.value, Status.ACKNOWLEDGED.value]),
        )
        .order_by(nudges.c.raised_at, nudges.c.nudge_id)
    )
    return list((await session.execute(query)).all())


async def close_digest(session: AsyncSession, digest_id: str, now: datetime) -> None:
    await session.execute(
        update(digests)
        .where(digests.c.digest_id == digest_id)
        .values(status="closed", closed_at=now)
    )


async def insert_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """New deliveries; one per (nudge and round, or digest; channel) whatever replays the
    plan."""
    if rows:
        await session.execute(insert(deliveries).on_conflict_do_nothing(), list(rows))
