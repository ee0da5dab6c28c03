"""What a delivery carries: the JSON body every channel renders from, frozen at creation so
a retry sends exactly the same content (and a digest never changes after it is closed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any


def nudge_data(row: Mapping[str, Any]) -> dict[str, Any]:
    """The partner-facing fields of one nudge (a nudges row or the dict inserted as one)."""
    return {
        "nudge_id": row["nudge_id"],
        "partner_id": row["partner_id"],
        "customer_id": row["customer_id"],
        "rule": row["rule"],
        "severity": row["severity"],
        "title": row["title"],
        "next_step": row["next_step"],
        "facts": dict(row["facts"]),
        "raised_at": row["raised_at"].isoformat(),
        "delivery_round": row["delivery_round"],
    }


def nudge_payload(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The Standard Webhooks shaped body of one nudge: `type`, `timestamp`, `data`."""
    return {"type": "nudge.raised", "timestamp": now.isoformat(), "data": nudge_data(row)}


def digest_payload(
    *,
    digest_id: str,
    partner_id: str,
    window_at: datetime,
    rows: Sequence[Mapping[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    return {
        "type": "nudge.digest",
        "timestamp": now.isoformat(),
        "data": {
            "digest_id": digest_id,
            "partner_id": partner_id,
            "window_at": window_at.isoformat(),
            "nudges": [nudge_data(r) for r in rows],
        },
    }
