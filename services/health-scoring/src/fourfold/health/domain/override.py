"""A manual override: a person's score or band placed over the computed one until it expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fourfold.health.domain.scorecard import Band
from fourfold.health.domain.signals import require_aware


@dataclass(frozen=True)
class ManualOverride:
    reason: str
    set_at: datetime
    expires_at: datetime
    score: int | None = None
    band: Band | None = None
    set_by: str | None = None

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("an override needs a reason")
        if self.score is None and self.band is None:
            raise ValueError("an override sets a score, a band, or both")
        if self.score is not None and not 0 <= self.score <= 100:
            raise ValueError(f"override score must be within 0..100, got {self.score}")
        if self.band is Band.UNKNOWN:
            raise ValueError("an override cannot set the unknown band")
        if require_aware(self.expires_at) <= require_aware(self.set_at):
            raise ValueError("an override must expire after it is set")

    def is_active(self, as_of: datetime) -> bool:
        """In force from when it was set until (excluding) its expiry, so replays agree."""
        return self.set_at <= as_of < self.expires_at
