"""Simulated events as a vendor would send them: structured-mode CloudEvents 1.0 as JSON objects.

Ids are name-based UUIDs (v5) of the run (seed and first day) and of what the event is, so a
run is reproducible to the byte and re-posting it is deduplicated by ingest.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

BILLING_SOURCE = "https://billing.simulator.fourfold.dev"
PRODUCT_SOURCE = "https://product.simulator.fourfold.dev"
PARTNER_SOURCE = "https://partners.simulator.fourfold.dev"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Planned:
    """One event and the simulated instant it happens at (its CloudEvents `time`)."""

    at: datetime
    event: dict[str, Any]


class Wire:
    """Builds the events of one run."""

    def __init__(self, *, seed: int, start: date) -> None:
        namespace = uuid.uuid5(
            uuid.NAMESPACE_URL, f"https://simulator.fourfold.dev/{seed}/{start.isoformat()}"
        )
        self._namespace = namespace.bytes

    def event(
        self, *, source: str, type_: str, at: datetime, data: dict[str, Any], key: str
    ) -> Planned:
        """An event whose id is derived from `key`, unique within the run."""
        return Planned(
            at,
            {
                "specversion": "1.0",
                "id": self.event_id(key),
                "source": source,
                "type": type_,
                "time": instant(at),
                "datacontenttype": "application/json",
                "data": data,
            },
        )

    def event_id(self, key: str) -> str:
        """`str(uuid.uuid5(namespace, key))`, without building UUID objects (the hot path)."""
        digest = bytearray(hashlib.sha1(self._namespace + key.encode()).digest()[:16])
        digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
        digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = digest.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@lru_cache(maxsize=8192)
def instant(at: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, to the second."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Decimal, currency: str) -> dict[str, str]:
    """Money as the contracts carry it: a decimal string, rounded half-up to the cent."""
    return {"amount": str(amount.quantize(CENT, rounding=ROUND_HALF_UP)), "currency": currency}


def at_time(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def midnight(day: date) -> datetime:
    return at_time(day, 0)


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or the month's last day if it is shorter."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))
