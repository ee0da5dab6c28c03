"""Route raised nudges to deliveries or the digest, and send the digests that are due.

Per partner (in partner order, so two writers lock partners in the same order): no enabled
channel → the feed only; otherwise take what fits the day's allowance (`take_quota`, whose
row lock is the partner's lock) as immediate deliveries, one per (nudge, round, channel),
and put the rest in the partner's digest for the next window. A nudge back from a snooze is
routed the same way, in its next delivery round. The same trigger twice is one nudge (unique
per customer and rule), so one delivery; two different nudges in the same second are two
deliveries: nothing here keys on time. A digest belongs to one partner and
one window; once closed it takes no more items (a late one goes to the next window), and its
deliveries carry the items frozen at close, so a retry resends them all.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.notifications import repository
from fourfold.notifications.delivery.payloads import digest_payload, nudge_payload
from fourfold.notifications.domain.config import Delivery
from fourfold.notifications.domain.schedule import digest_window, utc_day
from fourfold.notifications.metrics import DIGEST_SIZE


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _delivery(
    channel: Any, *, kind: str, payload: dict[str, Any], now: datetime, **ref: str | int
) -> dict[str, Any]:
    return {
        "delivery_id": new_id("msg"),
        "partner_id": channel.partner_id,
        "channel_id": channel.channel_id,
        "kind": kind,
        "nudge_id": ref.get("nudge_id"),
        "nudge_round": ref.get("nudge_round"),
        "digest_id": ref.get("digest_id"),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "payload": payload,
        "created_at": now,
    }


async def route(
    session: AsyncSession, raised: Sequence[dict[str, Any]], *, policy: Delivery, now: datetime
) -> dict[str, list[Any]]:
    """Set each new nudge row's `routing` (call it before inserting the rows, then
    `write_routes`); return the partners' enabled channels."""
    by_partner: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in raised:
        by_partner[row["partner_id"]].append(row)
    found = await repository.enabled_channels(session, by_partner)
    for partner_id in sorted(by_partner):
        rows, chans = by_partner[partner_id], found.get(partner_id, [])
        if not chans:
            for row in rows:
                row["routing"] = "feed"
            continue
        granted = await repository.take_quota(
            session,
            partner_id=partner_id,
            day=utc_day(now),
            wanted=len(rows),
            limit=policy.throttle_per_day,
        )
        for row in rows[:granted]:
            row["routing"] = "immediate"
        for row in rows[granted:]:
            row["routing"] = "digest"
    return found


async def write_routes(
    session: AsyncSession,
    raised: Sequence[dict[str, Any]],
    *,
    found: dict[str, list[Any]],
    policy: Delivery,
    now: datetime,
) -> None:
    """The deliveries and digest items of the nudge rows `route` routed (rows inserted), for
    each row's current delivery round."""
    immediate = [r for r in raised if r["routing"] == "immediate"]
    held = [r for r in raised if r["routing"] == "digest"]
    await repository.insert_deliveries(
        session,
        [
            _delivery(
                channel,
                kind="nudge",
                payload=nudge_payload(row, now),
                now=now,
                nudge_id=row["nudge_id"],
                nudge_round=row["delivery_round"],
            )
            for row in immediate
            for channel in found.get(row["partner_id"], [])
        ],
    )
    by_partner: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for row in held:
        by_partner[row["partner_id"]].append((row["nudge_id"], row["delivery_round"]))
    for partner_id in sorted(by_partner):
        window = digest_window(policy, now)
        while (
            digest := await repository.collecting_digest(
                session, partner_id=partner_id, window_at=window, new_id=new_id("dig")
            )
        ) is None:
            window += timedelta(days=1)
        await repository.add_digest_items(session, digest[0], by_partner[partner_id])


async def send_due_digests(session: AsyncSession, *, now: datetime, limit: int = 100) -> int:
    """Close the digests whose window has come and create one delivery per channel each,
    carrying the items still open as they are now; return how many were closed."""
    due = await repository.lock_due_digests(session, now, limit)
    if not due:
        return 0
    found = await repository.enabled_channels(session, {d.partner_id for d in due})
    rows: list[dict[str, Any]] = []
    for digest in due:
        items = [row._mapping for row in await repository.digest_nudges(session, digest.digest_id)]
        payload = digest_payload(
            digest_id=digest.digest_id,
            partner_id=digest.partner_id,
            window_at=digest.window_at,
            rows=items,
            now=now,
        )
        rows += [
            _delivery(channel, kind="digest", payload=payload, now=now, digest_id=digest.digest_id)
            for channel in found.get(digest.partner_id, [])
            if items  # every nudge of it resolved or snoozed meanwhile: nothing to send
        ]
        await repository.close_digest(session, digest.digest_id, now)
        DIGEST_SIZE.observe(len(items))
    await repository.insert_deliveries(session, rows)
    return len(due)
