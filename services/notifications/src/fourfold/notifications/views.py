"""Rows to API shapes, with no I/O: secrets never leave through here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fourfold.notifications.delivery.signing import in_force
from fourfold.notifications.schemas import Attempt, Channel, Delivery, Nudge, NudgeDetail

_TERMINAL = {"delivered", "dead", "cancelled"}


def channel(row: Mapping[str, Any], now: datetime) -> Channel:
    return Channel(
        channel_id=row["channel_id"],
        partner_id=row["partner_id"],
        kind=row["kind"],
        target=row["target"],
        enabled=row["enabled"],
        disabled_reason=row["disabled_reason"],
        secrets_in_force=len(in_force(row["secrets"], now)),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def nudge(row: Mapping[str, Any]) -> Nudge:
    return Nudge.model_validate({k: row[k] for k in Nudge.model_fields})


def delivery(row: Mapping[str, Any], attempts: Sequence[Mapping[str, Any]] = ()) -> Delivery:
    return Delivery(
        delivery_id=row["delivery_id"],
        partner_id=row["partner_id"],
        channel_id=row["channel_id"],
        kind=row["kind"],
        nudge_id=row["nudge_id"],
        digest_id=row["digest_id"],
        status=row["status"],
        attempts_made=row["attempts"],
        next_attempt_at=None if row["status"] in _TERMINAL else row["next_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        dead_at=row["dead_at"],
        attempts=[
            Attempt.model_validate({k: a[k] for k in Attempt.model_fields}) for a in attempts
        ],
    )


def nudge_detail(
    row: Mapping[str, Any],
    found: Sequence[Mapping[str, Any]],
    attempts: Mapping[str, Sequence[Any]],
) -> NudgeDetail:
    return NudgeDetail(
        **nudge(row).model_dump(),
        deliveries=[
            delivery(d, [a._mapping for a in attempts.get(d["delivery_id"], [])]) for d in found
        ],
    )
