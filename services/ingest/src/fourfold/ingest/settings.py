"""Ingest settings: the shared ones (the body limit among them) plus the event endpoint's."""

from __future__ import annotations

from pydantic import Field

from fourfold.settings import FourfoldSettings


class IngestSettings(FourfoldSettings):
    service_name: str = "ingest"
    database_schema: str = Field(default="ingest", description="Postgres schema ingest owns.")
    max_batch_events: int = Field(default=1000, ge=1, description="Events per batch request.")
    publish_timeout_s: float = Field(
        default=5.0, gt=0, description="How long to wait for broker acks before answering 503."
    )
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with a 503.")
