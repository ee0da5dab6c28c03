"""API shapes: the feed, one nudge with its deliveries, channels, rules and the delivery log."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from fourfold.events.bounds import EventTime
from fourfold.service.text import RequestModel

ChannelKind = Literal["webhook", "slack", "email"]


class _In(RequestModel):
    """A request body: unknown fields and strings PostgreSQL cannot store are refused (422)."""

    model_config = ConfigDict(extra="forbid")


def check_target(kind: str, target: str) -> str:
    """A webhook or Slack target is an http(s) URL with a host; an email one an address."""
    if kind == "email":
        local, _, domain = target.partition("@")
        if not local or "." not in domain or any(c.isspace() for c in target):
            raise ValueError("must be an email address (name@example.com)")
        return target
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    return target


def is_private(target: str) -> bool:
    """Whether a URL names a loopback, private or link-local address literally."""
    host = urlsplit(target).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return address.is_loopback or address.is_private or address.is_link_local


class ChannelIn(_In):
    kind: ChannelKind
    target: str = Field(min_length=3, max_length=2048, pattern=r"^[^\x00]*$")

    @field_validator("target")
    @classmethod
    def _target(cls, target: str, info: ValidationInfo) -> str:
        """Checked against `kind` (declared first), so the error names `target`."""
        kind = info.data.get("kind")
        return target if kind is None else check_target(kind, target)


class ChannelPatch(_In):
    target: str | None = Field(default=None, min_length=3, max_length=2048, pattern=r"^[^\x00]*$")
    enabled: bool | None = None


class Channel(BaseModel):
    channel_id: str
    partner_id: str
    kind: ChannelKind
    target: str
    enabled: bool
    disabled_reason: str | None
    secrets_in_force: int = Field(description="Webhook secrets signing now (2 during a rotation).")
    created_at: datetime
    updated_at: datetime


class ChannelCreated(Channel):
    secret: str | None = Field(
        description="The webhook's signing secret (`whsec_…`), shown only in this answer."
    )


class SecretRotated(BaseModel):
    channel: Channel
    secret: str = Field(description="The new signing secret, shown only in this answer.")
    previous_expires_at: datetime | None = Field(
        description="Until when the previous secret still signs beside the new one."
    )


class NudgeStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Nudge(BaseModel):
    nudge_id: str
    partner_id: str
    customer_id: str
    rule: str
    severity: str
    status: NudgeStatus
    title: str
    next_step: str
    facts: dict[str, Any]
    routing: Literal["immediate", "digest", "feed"]
    raised_at: datetime
    updated_at: datetime
    snoozed_until: datetime | None
    resolved_at: datetime | None
    resolution: str | None


class Attempt(BaseModel):
    started_at: datetime
    duration_ms: int
    status_code: int | None
    outcome: str
    error: str | None


class Delivery(BaseModel):
    delivery_id: str = Field(description="Also the `webhook-id` header of every attempt.")
    partner_id: str
    channel_id: str
    kind: Literal["nudge", "digest"]
    nudge_id: str | None
    digest_id: str | None
    status: Literal["pending", "sending", "delivered", "dead", "cancelled"]
    attempts_made: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    attempts: list[Attempt] = Field(default_factory=list)


class NudgeDetail(Nudge):
    deliveries: list[Delivery]


class FeedPage(BaseModel):
    items: list[Nudge]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None


class SnoozeIn(_In):
    until: EventTime = Field(description="When the nudge comes back if its condition holds.")


class RulesIn(_In):
    yaml: str = Field(min_length=1, max_length=200_000, description="A rule configuration (YAML).")


class ActiveRules(BaseModel):
    version: str
    source: str = Field(description="The file it was loaded from, or `default`.")
    config: dict[str, Any]


class RulesValidated(BaseModel):
    valid: Literal[True]
    version: str
