"""The simulator's settings: the shared ones plus where and as whom it posts."""

from __future__ import annotations

from pydantic import Field, SecretStr

from fourfold.settings import FourfoldSettings


class SimulatorSettings(FourfoldSettings):
    service_name: str = "simulator"
    simulator_ingest_url: str | None = Field(
        default=None,
        description="Base URL of the ingest API (or the gateway) the live mode posts to.",
    )
    simulator_token: SecretStr | None = Field(
        default=None,
        description=(
            "Ingest bearer token for the live mode; unset: one is issued with FOURFOLD_AUTH_SECRET."
        ),
    )
    simulator_stripe_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Signing secret of ingest's Stripe webhook endpoint (its "
            "FOURFOLD_INGEST_STRIPE_WEBHOOK_SECRET), for `fourfold simulate --stripe`."
        ),
    )
