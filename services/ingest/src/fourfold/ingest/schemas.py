"""Response shapes of the ingest API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from fourfold.events.problems import FieldProblem


class EventStatus(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class EventResult(BaseModel):
    index: int = Field(description="Position of the event in the request (0 for a single one).")
    id: str | None = None
    source: str | None = None
    status: EventStatus
    errors: list[FieldProblem] = Field(
        default_factory=list, description="Why a rejected event was rejected, by field path."
    )


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]


class AcceptedEvent(BaseModel):
    source: str
    id: str
    type: str
    topic: str
    partition_key: str
    accepted_at: datetime
