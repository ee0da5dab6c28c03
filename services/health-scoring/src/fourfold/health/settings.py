"""The health-scoring process's settings: the shared ones plus its own `FOURFOLD_HEALTH_*`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fourfold.settings import FourfoldSettings


class HealthSettings(FourfoldSettings):
    """Everything the health-scoring service reads from the environment."""

    service_name: str = Field(default="health-scoring")
    database_schema: str = Field(
        default="health", description="PostgreSQL schema owning the service's tables."
    )
    health_scorecard_path: Path | None = Field(
        default=None,
        description="YAML scorecard to load at start. Unset: the documented default scorecard.",
    )
    health_topic_prefix: str = Field(
        default="",
        description="Prefix of the consumed topic names (tests isolate themselves with it).",
    )
    health_consumer_group: str = Field(default="health-scoring")
    health_consumer_max_records: int = Field(default=500, ge=1)
    health_consumer_session_timeout_ms: int = Field(default=10_000, ge=1000)
    health_recompute_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="How often the scheduler looks for customers whose score time may move.",
    )
    health_recompute_batch_size: int = Field(default=500, ge=1)
    health_history_default_days: int = Field(
        default=90, ge=1, description="History range when `from` is omitted."
    )
