"""One settings object per process, read from the environment with the `FOURFOLD_` prefix.

Every tunable lives here and is documented in docs/settings.md; nothing else in Fourfold
reads `os.environ`. Services subclass `FourfoldSettings` to add their own fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_AUTH_SECRET = "dev-only-change-me-dev-only-change-me"
"""Public, so only acceptable while every part is embedded (a laptop, not a deployment)."""
MIN_AUTH_SECRET_BYTES = 32
MAX_CLOCK_SPEED = 1_000_000.0
"""About a simulated year per 30 real seconds: beyond it a demo shows nothing but jumps."""


class FourfoldSettings(BaseSettings):
    """Settings shared by every Fourfold process."""

    model_config = SettingsConfigDict(env_prefix="FOURFOLD_", env_file=None, extra="ignore")

    service_name: str = Field(default="fourfold", description="Name used in logs and metrics.")
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="Kafka bootstrap servers. Unset: the embedded Tansu broker is started.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL (postgresql+asyncpg://...). Unset: an embedded PostgreSQL is started."
        ),
    )
    state_dir: Path = Field(
        default=Path(".state"),
        description="Folder for the embedded broker's and database's data and logs.",
    )
    topic_partitions: int = Field(default=6, ge=1, description="Partitions per created topic.")
    topic_replication_factor: int = Field(default=1, ge=1)
    auth_secret: SecretStr = Field(
        default=SecretStr(DEV_AUTH_SECRET),
        description="HMAC secret signing bearer tokens (HS256). Set it in production.",
    )
    auth_issuer: str = Field(default="fourfold")
    auth_clock_skew_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How far a token's `iat` may be ahead of this service's clock.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Request body limit in bytes (413 past it), enforced by the app shell.",
    )
    rate_limit_ingest_per_minute: int = Field(
        default=60_000,
        ge=0,
        description=(
            "Requests per minute one ingest token (its subject) may make to one replica, "
            "bursts up to the same number (429 with Retry-After past it; 0: no limit)."
        ),
    )
    rate_limit_partner_per_minute: int = Field(
        default=1_200,
        ge=0,
        description="The same for one partner user's token (0: no limit).",
    )
    rate_limit_admin_per_minute: int = Field(
        default=6_000,
        ge=0,
        description="The same for one admin token (0: no limit).",
    )
    body_read_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Time a client has to send a whole request body (408 past it).",
    )
    inbox_retention_days: int = Field(
        default=21,
        ge=1,
        le=36_500,
        description=(
            "Days an applied event's inbox row is kept (its replay is a no-op meanwhile); "
            "raised at start above what the consumed topics may still replay."
        ),
    )
    consumer_heartbeat_interval_ms: int = Field(
        default=500,
        ge=100,
        description=(
            "How often a consumer tells its group it is alive, and so how soon it hears of a "
            "rebalance (a replica leaving on SIGTERM); at most a third of the session timeout."
        ),
    )
    consumer_instance: str | None = Field(
        default=None,
        max_length=200,
        description=(
            "This replica's name in its consumer groups (its Kafka client id): unique per "
            "replica, the same across its restarts. A restarted replica removes its killed "
            "predecessor of that name from the group at once. Unset: `<service>-<host name>` "
            "(the pod's name on Kubernetes)."
        ),
    )
    consumer_remove_predecessor: bool = Field(
        default=True,
        description=(
            "Remove the group's members named like this replica before joining (false: a "
            "restarted replica waits for its killed predecessor's session to expire)."
        ),
    )
    role: Literal["all", "api", "worker"] = Field(
        default="all",
        description=(
            "What a consuming service's process runs: `all` (routes and the background work), "
            "`api` (routes; no consumer, relay or writers) or `worker` (consumer, outbox "
            "relay, writers, inbox pruner; no routes). The same image runs as either."
        ),
    )
    inbox_prune_interval_s: float = Field(
        default=900.0, gt=0, description="How often a consuming service prunes its inbox."
    )
    clock_start: AwareDatetime | None = Field(
        default=None,
        description=(
            "Simulated time at the clock's origin (demos). Unset with speed 1: the system clock."
        ),
    )
    clock_speed: float = Field(
        default=1.0,
        gt=0,
        le=MAX_CLOCK_SPEED,
        allow_inf_nan=False,
        description="Simulated seconds per real second (8640: one simulated day per 10 s).",
    )
    clock_anchor: AwareDatetime | None = Field(
        default=None,
        description=(
            "Real instant at which simulated time equals the start, shared by every process "
            "of a demo so they agree; unset: when the process builds its clock."
        ),
    )
    log_level: str = Field(default="INFO")
    log_json: bool = Field(default=True, description="Structured JSON logs (false: plain text).")

    def check_serving_secret(self) -> None:
        """Refuse to serve with a guessable secret: called by every service at start.

        The public dev default is accepted only when neither the broker nor the database is
        named (everything embedded, on one machine). Raises ValueError naming the setting.
        """
        secret = self.auth_secret.get_secret_value()
        if len(secret.encode()) < MIN_AUTH_SECRET_BYTES:
            raise ValueError(f"FOURFOLD_AUTH_SECRET must be at least {MIN_AUTH_SECRET_BYTES} bytes")
        if secret == DEV_AUTH_SECRET and (self.kafka_bootstrap_servers or self.database_url):
            raise ValueError(
                "FOURFOLD_AUTH_SECRET is the public dev default while a broker or database "
                "URL is set: set a secret of your own"
            )
