"""Valid raw events, as a vendor would POST them: for tests."""

from __future__ import annotations

from typing import Any


def subscription_created(event_id: str, customer: str, partner: str = "p-1") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "https://billing.example.com",
        "type": "subscription.created",
        "time": "2026-03-01T10:00:00Z",
        "data": {
            "subscription_id": f"sub-{customer}",
            "customer_id": customer,
            "partner_id": partner,
            "plan": "pro",
            "seats": 25,
            "mrr": {"amount": "1250.00", "currency": "EUR"},
            "start_date": "2026-03-01",
            "term_end": "2027-02-28",
        },
    }


def usage_reported(event_id: str, customer: str, value: float = 12) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "https://product.example.com",
        "type": "usage.reported",
        "time": "2026-03-05T00:00:00Z",
        "data": {
            "customer_id": customer,
            "metric": "active_users",
            "value": value,
            "period_start": "2026-03-04T00:00:00Z",
            "period_end": "2026-03-05T00:00:00Z",
        },
    }


def milestone_completed(event_id: str, customer: str, partner: str = "p-1") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "https://partner-portal.example.com",
        "type": "milestone.completed",
        "time": "2026-03-03T09:00:00Z",
        "data": {
            "customer_id": customer,
            "partner_id": partner,
            "milestone": "kickoff",
            "completed_at": "2026-03-03T09:00:00Z",
        },
    }
