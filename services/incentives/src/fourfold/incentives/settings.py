"""The incentives process's settings: the shared ones plus its own `FOURFOLD_INCENTIVES_*`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fourfold.settings import FourfoldSettings


class IncentivesSettings(FourfoldSettings):
    """Everything the incentives service reads from the environment."""

    service_name: str = Field(default="incentives")
    database_schema: str = Field(
        default="incentives", description="PostgreSQL schema owning the service's tables."
    )
    incentives_program_path: Path | None = Field(
        default=None,
        description=(
            "YAML program loaded and activated at start. Unset: the documented default program."
        ),
    )
    incentives_topic_prefix: str = Field(
        default="",
        description="Prefix of the consumed topic names (tests isolate themselves with it).",
    )
    incentives_consumer_group: str = Field(default="incentives")
    incentives_consumer_max_records: int = Field(default=500, ge=1)
    incentives_consumer_session_timeout_ms: int = Field(default=10_000, ge=1000)
    incentives_program_refresh_s: float = Field(
        default=2.0,
        ge=0,
        description="How often the consumer re-reads the activated program versions.",
    )
    incentives_adoption_sweep_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description=(
            "How often the adoption sweep pays the bonus of green streaks no event closed."
        ),
    )
    incentives_adoption_sweep_batch_size: int = Field(
        default=500, ge=1, description="Customers walked per adoption-sweep transaction."
    )
    incentives_max_program_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest program YAML an admin may upload."
    )
    incentives_max_range_days: int = Field(
        default=731,
        ge=1,
        description="Longest date range a recalculation or a what-if may cover.",
    )
