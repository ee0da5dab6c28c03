"""What a partner does with a nudge (acknowledge, snooze, resolve) and an admin's hand
retry of a dead-lettered delivery: each in the route's one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.auth import Principal, partner_scope
from fourfold.kafka.outbox import stage
from fourfold.notifications import queries, repository
from fourfold.notifications.domain.nudges import Action, InvalidTransition, Status, partner_action
from fourfold.notifications.errors import (
    DeliveryNotDead,
    DeliveryNotFound,
    NudgeClosed,
    NudgeNotFound,
)
from fourfold.notifications.evaluation import resolved_event
from fourfold.notifications.metrics import NUDGES_RESOLVED
from fourfold.notifications.models import deliveries, outbox


async def act(
    session: AsyncSession,
    *,
    principal: Principal,
    nudge_id: str,
    action: Action,
    now: datetime,
    until: datetime | None = None,
) -> None:
    """Apply a partner's action to its nudge (404 alike for missing and another partner's)."""
    row = await repository.lock_nudge(session, nudge_id)
    if row is None:
        raise NudgeNotFound()
    partner_scope(principal, row.partner_id, resource="nudge")
    try:
        moved = partner_action(Status(row.status), action, now=now, until=until)
    except InvalidTransition as exc:
        raise NudgeClosed(str(exc)) from None
    await repository.set_status(
        session, nudge_id, status=moved.status, snoozed_until=moved.snoozed_until, now=now
    )
    if moved.status is Status.RESOLVED:
        event = resolved_event(
            nudge_id=nudge_id,
            partner_id=row.partner_id,
            customer_id=row.customer_id,
            rule=row.rule,
            resolution="resolved",
            now=now,
        )
        await stage(session, outbox, [event])
        NUDGES_RESOLVED.labels(row.rule, "resolved").inc()


async def retry_dead(session: AsyncSession, *, delivery_id: str, now: datetime) -> None:
    """Put a dead-lettered delivery back in the queue with a fresh schedule (same webhook-id)."""
    result = await session.execute(
        update(deliveries)
        .where(deliveries.c.delivery_id == delivery_id)
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            dead_at=None,
        )
        .where(deliveries.c.status == "dead")
        .returning(deliveries.c.delivery_id)
    )
    if result.first() is None:
        row = await queries.delivery_row(session, delivery_id)
        if row is None:
            raise DeliveryNotFound()
        raise DeliveryNotDead(row.status)
