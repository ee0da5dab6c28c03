"""The backfill command's settings (FOURFOLD_BACKFILL_*); flags override the defaults."""

from __future__ import annotations

from pydantic import Field, SecretStr

from fourfold.settings import FourfoldSettings


class BackfillSettings(FourfoldSettings):
    service_name: str = "backfill"
    backfill_url: str = Field(
        default="http://localhost:8001", description="Base URL of ingest (or the gateway)."
    )
    backfill_token: SecretStr | None = Field(
        default=None,
        description="An ingest-role bearer token (fourfold token issue --role ingest).",
    )
    backfill_batch_size: int = Field(default=500, ge=1, le=1000, description="Events per request.")
    backfill_concurrency: int = Field(default=4, ge=1, le=64, description="Requests in flight.")
