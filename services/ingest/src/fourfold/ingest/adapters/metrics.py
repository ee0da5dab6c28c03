"""Per-adapter counters (deploy/ dashboards and alerts read these names)."""

from __future__ import annotations

from prometheus_client import Counter

WEBHOOK_EVENTS = Counter(
    "fourfold_ingest_webhook_events_total",
    "Webhook deliveries by adapter and outcome "
    "(received, mapped, unmapped, ignored, rejected, duplicate).",
    ["adapter", "outcome"],
)
WEBHOOK_AUTH_FAILURES = Counter(
    "fourfold_ingest_webhook_auth_failures_total",
    "Webhook deliveries refused for their signature or credential, by reason.",
    ["adapter", "reason"],
)
