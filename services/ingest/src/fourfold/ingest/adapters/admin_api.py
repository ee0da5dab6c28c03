"""GET /v1/admin/webhooks/unmapped: deliveries that became no event, for an operator."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from fourfold.auth import Principal, require_roles
from fourfold.ingest.adapters import repository
from fourfold.ingest.adapters.schemas import UnmappedDelivery, UnmappedList
from fourfold.ingest.api import Runtime

router = APIRouter(prefix="/v1/admin/webhooks", tags=["webhooks"])
Admin = Annotated[Principal, Depends(require_roles("admin"))]


@router.get("/unmapped", response_model=UnmappedList, summary="List unmapped deliveries")
async def unmapped(
    _: Admin,
    rt: Runtime,
    adapter: Literal["stripe", "chargebee"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> UnmappedList:
    """Deliveries acknowledged without an event (no partner of record, or rejected), newest
    first: fix the partner in the billing system and resend them from its dashboard."""
    async with rt.sessions() as session:
        rows = await repository.list_unmapped(session, adapter=adapter, limit=limit)
    return UnmappedList(items=[UnmappedDelivery(**row) for row in rows])
