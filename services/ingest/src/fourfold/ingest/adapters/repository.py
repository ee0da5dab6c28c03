"""SQL of the webhook adapters: unmapped deliveries, partners per customer, last states."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.ingest.models import adapter_customers, adapter_subscriptions, webhook_unmapped


def storable(value: Any) -> Any:
    """`value` as PostgreSQL can keep it: JSONB and text refuse NUL, so it is spelled out."""
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000") if "\x00" in value else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


async def record_unmapped(
    session: AsyncSession,
    *,
    adapter: str,
    event_id: str,
    type: str,
    outcome: str,
    reason: str,
    payload: Any,
    received_at: datetime,
) -> bool:
    """List a delivery that became no event; False when it was listed before (a replay)."""
    inserted = await session.execute(
        insert(webhook_unmapped)
        .values(
            adapter=adapter,
            event_id=event_id,
            type=storable(type),
            outcome=outcome,
            reason=storable(reason[:2000]),
            payload=storable(payload),
            received_at=received_at,
        )
        .on_conflict_do_nothing()
        .returning(webhook_unmapped.c.event_id)
    )
    return inserted.first() is not None


async def list_unmapped(
    session: AsyncSession, *, adapter: str | None, limit: int
) -> list[dict[str, Any]]:
    query = select(
        webhook_unmapped.c.adapter,
        webhook_unmapped.c.event_id,
        webhook_unmapped.c.type,
        webhook_unmapped.c.outcome,
        webhook_unmapped.c.reason,
        webhook_unmapped.c.received_at,
    ).order_by(webhook_unmapped.c.received_at.desc(), webhook_unmapped.c.event_id)
    if adapter is not None:
        query = query.where(webhook_unmapped.c.adapter == adapter)
    rows = await session.execute(query.limit(limit))
    return [dict(row._mapping) for row in rows]


async def remember_partner(
    session: AsyncSession, *, adapter: str, customer_id: str, partner_id: str, at: datetime
) -> None:
    statement = insert(adapter_customers).values(
        adapter=adapter, customer_id=storable(customer_id), partner_id=partner_id, updated_at=at
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["adapter", "customer_id"],
            set_={"partner_id": statement.excluded.partner_id, "updated_at": at},
        )
    )


async def partner_of(session: AsyncSession, *, adapter: str, customer_id: str) -> str | None:
    found = await session.scalar(
        select(adapter_customers.c.partner_id).where(
            adapter_customers.c.adapter == adapter,
            adapter_customers.c.customer_id == customer_id,
        )
    )
    return found


async def last_state(
    session: AsyncSession, *, adapter: str, subscription_id: str
) -> tuple[dict[str, Any], datetime] | None:
    row = (
        await session.execute(
            select(adapter_subscriptions.c.state, adapter_subscriptions.c.as_of).where(
                adapter_subscriptions.c.adapter == adapter,
                adapter_subscriptions.c.subscription_id == subscription_id,
            )
        )
    ).first()
    return None if row is None else (row.state, row.as_of)


async def keep_state(
    session: AsyncSession,
    *,
    adapter: str,
    subscription_id: str,
    state: dict[str, Any],
    as_of: datetime,
) -> None:
    """Store the subscription's state unless a later one is stored already."""
    statement = insert(adapter_subscriptions).values(
        adapter=adapter,
        subscription_id=storable(subscription_id),
        state=storable(state),
        as_of=as_of,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["adapter", "subscription_id"],
            set_={"state": statement.excluded.state, "as_of": statement.excluded.as_of},
            where=adapter_subscriptions.c.as_of <= statement.excluded.as_of,
        )
    )
