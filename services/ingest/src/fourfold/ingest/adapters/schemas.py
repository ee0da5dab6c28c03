"""Response shapes of the webhook adapters."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from fourfold.ingest.adapters.translation import Outcome


class WebhookReceipt(BaseModel):
    """What the billing system gets back: 200 means 'do not send this again'."""

    received: bool = True
    adapter: str
    event_id: str = Field(description="The billing system's own event id.")
    type: str = Field(description="The billing system's event type.")
    outcome: Outcome | str = Field(
        description="mapped, unmapped, ignored, rejected, or duplicate (a redelivery)."
    )
    reason: str = Field(default="", description="Why there is no event, when there is none.")
    published: list[str] = Field(
        default_factory=list, description="Ids of the Fourfold events published now."
    )
    duplicates: list[str] = Field(
        default_factory=list, description="Ids of mapped events published before (a replay)."
    )


class UnmappedDelivery(BaseModel):
    adapter: str
    event_id: str
    type: str
    outcome: str = Field(description="unmapped (no partner of record) or rejected.")
    reason: str
    received_at: datetime


class UnmappedList(BaseModel):
    items: list[UnmappedDelivery]
