"""Folding events into the snapshot: late and out-of-order events, bounded history, JSON."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fourfold.events import Envelope, parse_event
from fourfold.notifications.domain.snapshot import (
    Snapshot,
    epoch,
    fold_all,
    from_json,
    to_json,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def event(type_: str, data: dict[str, Any], at: datetime) -> Envelope:
    raw = {
        "specversion": "1.0",
        "id": uuid.uuid4().hex,
        "source": "test",
        "type": type_,
        "time": at.isoformat(),
        "data": data,
    }
    return parse_event(json.dumps(raw).encode())


def health(score: int, at: datetime, *, utilisation: float = 0.5, band: str = "green") -> Envelope:
    return event(
        "health.changed",
        {
            "customer_id": "c-1",
            "partner_id": "p-1",
            "score": score,
            "previous_score": None,
            "band": band,
            "previous_band": None,
            "step": "implement",
            "previous_step": None,
            "scorecard_version": "v1",
            "scored_at": at.isoformat(),
            "signals": {
                "seats": 10,
                "seats_in_use": 5,
                "utilization": utilisation,
                "subscription_start": "2026-05-01",
            },
        },
        at,
    )


def money() -> dict[str, str]:
    return {"amount": str(Decimal("10.00")), "currency": "EUR"}


def failed(invoice: str, at: datetime) -> Envelope:
    data = {
        "invoice_id": invoice,
        "subscription_id": "s",
        "customer_id": "c-1",
        "amount": money(),
        "attempt": 1,
    }
    return event("invoice.payment_failed", data, at)


def paid(invoice: str, at: datetime) -> Envelope:
    data = {
        "invoice_id": invoice,
        "subscription_id": "s",
        "customer_id": "c-1",
        "amount": money(),
        "paid_at": at.isoformat(),
    }
    return event("invoice.paid", data, at)


def test_a_late_health_event_only_adds_history() -> None:
    newer, older = health(60, NOW, band="yellow"), health(80, NOW - timedelta(days=1))
    s = fold_all(Snapshot("c-1"), [newer])
    s = fold_all(s, [older])
    assert (s.score, s.band) == (60, "yellow")
    assert [v for _, v in s.scores] == [80, 60]


def test_a_paid_invoice_stays_paid_whatever_the_order() -> None:
    for events in (
        [failed("in_1", NOW), paid("in_1", NOW)],
        [paid("in_1", NOW), failed("in_1", NOW)],
    ):
        s = Snapshot("c-1")
        for e in events:
            s = fold_all(s, [e])
        assert s.unpaid_invoices == ()
    assert fold_all(Snapshot("c-1"), [failed("in_2", NOW)]).unpaid_invoices == ("in_2",)


def test_subscription_created_sets_partner_and_start() -> None:
    data = {
        "subscription_id": "s",
        "customer_id": "c-1",
        "partner_id": "p-1",
        "plan": "pro",
        "seats": 10,
        "mrr": money(),
        "start_date": "2026-05-01",
        "term_end": "2027-05-01",
    }
    s = fold_all(Snapshot("c-1"), [event("subscription.created", data, NOW)])
    assert (s.partner_id, s.subscription_start, s.seats) == ("p-1", date(2026, 5, 1), 10)
    assert s.activation == 0.0


def test_history_is_bounded_and_keeps_the_point_before_the_window() -> None:
    events = [
        health(50 + i % 2, NOW + timedelta(days=i), utilisation=0.5 + (i % 2) / 4)
        for i in range(300)
    ]
    s = fold_all(Snapshot("c-1"), events)
    assert len(s.scores) <= 122
    window = timedelta(days=120).total_seconds()
    assert s.scores[0][0] < s.scores[-1][0] - window <= s.scores[1][0]


def test_json_round_trip() -> None:
    s = fold_all(
        Snapshot("c-1"), [health(70, NOW), failed("in_1", NOW), health(50, NOW + timedelta(days=1))]
    )
    assert from_json("c-1", to_json(s)) == s
    assert to_json(s)["scores"][0] == [epoch(NOW), 70]  # numbers, no instants to parse


def test_a_document_with_iso_history_is_still_read() -> None:
    s = fold_all(Snapshot("c-1"), [health(70, NOW), health(50, NOW + timedelta(days=1))])
    doc = to_json(s)
    for history in ("scores", "utilisations"):
        doc[history] = [
            [datetime.fromtimestamp(at, UTC).isoformat(), value] for at, value in doc[history]
        ]
    assert from_json("c-1", doc) == s
