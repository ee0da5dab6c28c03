"""What an adapter makes of one delivery: Fourfold events, or why there are none.

Pure data shared by the Stripe and Chargebee mappings and the webhook use case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from fourfold.ingest.adapters.amounts import money


class Outcome(StrEnum):
    MAPPED = "mapped"  # became Fourfold events (or a fact the adapter keeps, e.g. a partner)
    UNMAPPED = "unmapped"  # would matter, but cannot be mapped (no partner of record): listed
    IGNORED = "ignored"  # a type or a change Fourfold does not use: acknowledged, counted
    REJECTED = "rejected"  # mapped, but the events failed validation, or the payload's shape


class PayloadError(ValueError):
    """A delivery whose shape the mapping cannot read (a field missing or of another type)."""


@dataclass(frozen=True, slots=True)
class KeptState:
    """What an adapter remembers of a subscription when its system sends no previous values."""

    subscription_id: str
    state: dict[str, Any]
    as_of: datetime


@dataclass(frozen=True, slots=True)
class Translation:
    outcome: Outcome
    events: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    learned_partner: tuple[str, str] | None = None  # (customer id, partner id) to remember
    kept_state: KeptState | None = None  # a subscription's state, for the next comparison

    @classmethod
    def mapped(cls, events: list[dict[str, Any]]) -> Translation:
        return cls(Outcome.MAPPED, events)

    @classmethod
    def unmapped(cls, reason: str) -> Translation:
        return cls(Outcome.UNMAPPED, reason=reason)

    @classmethod
    def ignored(cls, reason: str) -> Translation:
        return cls(Outcome.IGNORED, reason=reason)


def cloudevent(
    *, source: str, id: str, type: str, time: datetime, subject: str, data: dict[str, Any]
) -> dict[str, Any]:
    """A structured Fourfold event, as a vendor would POST it."""
    return {
        "specversion": "1.0",
        "id": id,
        "source": source,
        "type": type,
        "time": time.isoformat().replace("+00:00", "Z"),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }


def numbered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One delivery, several events: the first keeps the delivery's id, the rest get `:n`."""
    for n, event in enumerate(events[1:], start=2):
        event["id"] = f"{event['id']}:{n}"
    return events


def at(unix: Any) -> datetime:
    if isinstance(unix, bool) or not isinstance(unix, int):
        raise PayloadError(f"expected a unix time, not {unix!r}")
    return datetime.fromtimestamp(unix, UTC)


def day(unix: Any) -> str:
    moment: date = at(unix).date()
    return moment.isoformat()


def text(obj: Any, name: str) -> str:
    value = obj.get(name) if isinstance(obj, dict) else None
    if isinstance(value, dict):  # an expanded object: its id
        value = value.get("id")
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{name} is missing or not a string")
    return value


def obj(parent: Any, name: str) -> dict[str, Any]:
    value = parent.get(name) if isinstance(parent, dict) else None
    if not isinstance(value, dict):
        raise PayloadError(f"{name} is missing or not an object")
    return value


def lifecycle_event(
    base: dict[str, Any], kind: str, ref: dict[str, str], data: dict[str, Any]
) -> dict[str, Any]:
    """A billing event of one delivery (`base`: source, id, time) about one subscription."""
    return cloudevent(
        source=base["source"],
        id=base["id"],
        type=kind,
        time=base["time"],
        subject=ref["subscription_id"],
        data=data,
    )


def money_json(amount: Decimal, currency: str) -> dict[str, str]:
    """Contract money as JSON (the amount rounded once, see amounts.money)."""
    value = money(amount, currency)
    return {"amount": str(value.amount), "currency": value.currency}


def partner_value(value: Any) -> str | None:
    """A partner id as the contracts accept it (1-128 characters, no NUL), or None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and len(value) <= 128 and "\x00" not in value else None
