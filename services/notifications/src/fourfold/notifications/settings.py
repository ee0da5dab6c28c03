"""The notifications process's settings: the shared ones plus its own `FOURFOLD_NOTIFICATIONS_*`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from fourfold.settings import FourfoldSettings


class NotificationsSettings(FourfoldSettings):
    """Everything the notifications service reads from the environment."""

    service_name: str = Field(default="notifications")
    database_schema: str = Field(
        default="notifications", description="PostgreSQL schema owning the service's tables."
    )
    notifications_rules_path: Path | None = Field(
        default=None,
        description="YAML rule configuration to load at start. Unset: the documented default.",
    )
    notifications_topic_prefix: str = Field(
        default="",
        description="Prefix of the consumed topic names (tests isolate themselves with it).",
    )
    notifications_consumer_group: str = Field(default="notifications")
    notifications_consumer_max_records: int = Field(default=500, ge=1)
    notifications_consumer_session_timeout_ms: int = Field(default=10_000, ge=1000)
    notifications_evaluate_interval_s: float = Field(
        default=300.0,
        gt=0,
        description="How often the scheduler re-evaluates every snapshot (time-based rules) "
        "and sends the digests that are due.",
    )
    notifications_evaluate_batch_size: int = Field(default=1000, ge=1)
    notifications_delivery_workers: bool = Field(
        default=True, description="Run the delivery worker in this process."
    )
    notifications_delivery_poll_s: float = Field(
        default=1.0, gt=0, description="How often the worker looks for due deliveries when idle."
    )
    notifications_delivery_timeout_s: float = Field(
        default=10.0, gt=0, description="Timeout of one delivery request (connect to answer)."
    )
    notifications_delivery_concurrency: int = Field(
        default=32, ge=1, description="Deliveries in flight at once in one process."
    )
    notifications_delivery_per_endpoint: int = Field(
        default=4, ge=1, description="Deliveries in flight at once to one channel."
    )
    notifications_delivery_lease_s: float = Field(
        default=120.0,
        gt=0,
        description="How long a claimed delivery stays claimed; a worker that died mid-send "
        "is taken over after it (the receiver dedupes by webhook-id).",
    )
    notifications_secret_overlap_s: float = Field(
        default=86_400.0,
        ge=0,
        description="After a webhook secret rotation, how long the old secret still signs.",
    )
    notifications_smtp_host: str = Field(default="127.0.0.1")
    notifications_smtp_port: int = Field(default=25, ge=1, le=65535)
    notifications_smtp_username: str | None = Field(default=None)
    notifications_smtp_password: SecretStr | None = Field(default=None)
    notifications_smtp_starttls: bool = Field(default=False)
    notifications_mail_from: str = Field(default="Fourfold <nudges@fourfold.invalid>")
    notifications_allow_private_targets: bool = Field(
        default=True,
        description="Allow webhook targets on loopback and private addresses (tests, dev).",
    )
