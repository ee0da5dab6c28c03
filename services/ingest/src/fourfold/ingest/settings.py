"""Ingest settings: the shared ones (the body limit among them) plus the event endpoint's."""

from __future__ import annotations

from pydantic import Field, SecretStr

from fourfold.settings import FourfoldSettings


class IngestSettings(FourfoldSettings):
    service_name: str = "ingest"
    database_schema: str = Field(default="ingest", description="Postgres schema ingest owns.")
    max_batch_events: int = Field(default=1000, ge=1, description="Events per batch request.")
    publish_timeout_s: float = Field(
        default=5.0, gt=0, description="How long to wait for broker acks before answering 503."
    )
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with a 503.")

    # Webhook adapters (docs/adapters.md). Unset secrets switch an adapter off (404).
    ingest_stripe_webhook_secret: SecretStr | None = Field(
        default=None, description="Stripe endpoint signing secret (whsec_...)."
    )
    ingest_stripe_webhook_previous_secret: SecretStr | None = Field(
        default=None, description="The secret being rotated out; accepted beside the current."
    )
    ingest_stripe_tolerance_s: int = Field(
        default=300, ge=1, description="Accepted age of a Stripe-Signature timestamp."
    )
    ingest_stripe_partner_metadata_key: str = Field(
        default="fourfold_partner_id",
        min_length=1,
        description="Metadata key naming the partner on a Stripe subscription or customer.",
    )
    ingest_stripe_source: str = Field(
        default="https://api.stripe.com", min_length=1, description="`source` of mapped events."
    )
    ingest_chargebee_username: str | None = Field(
        default=None, description="Basic-auth user Chargebee's webhook is configured with."
    )
    ingest_chargebee_password: SecretStr | None = Field(
        default=None, description="Basic-auth password Chargebee's webhook is configured with."
    )
    ingest_chargebee_partner_field: str = Field(
        default="cf_partner_id",
        min_length=1,
        description="Custom field (or meta_data key) naming the partner in Chargebee.",
    )
    ingest_chargebee_source: str = Field(
        default="https://chargebee.com", min_length=1, description="`source` of mapped events."
    )
    ingest_renewal_min_period_months: int = Field(
        default=12,
        ge=1,
        description="A new billing period of a term this long or longer is a renewal.",
    )
