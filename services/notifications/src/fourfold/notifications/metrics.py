"""The notifications service's own Prometheus metrics (beside the shared ones).

Names and labels are a contract with deploy/ (Grafana panels, alert rules, tests/deploy).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

NUDGES_RAISED = Counter(
    "fourfold_notifications_nudges_raised_total", "Nudges raised, by rule.", ["rule"]
)
NUDGES_RESOLVED = Counter(
    "fourfold_notifications_nudges_resolved_total",
    "Nudges resolved, by rule and resolution (condition_cleared, resolved).",
    ["rule", "resolution"],
)
DELIVERIES = Counter(
    "fourfold_notifications_deliveries_total",
    "Delivery attempts by channel kind and outcome (delivered, failed, gone, dead).",
    ["channel", "outcome"],
)
DELIVERY_LATENCY = Histogram(
    "fourfold_notifications_delivery_duration_seconds",
    "Time of one delivery attempt (request to answer), by channel kind.",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DEAD_LETTERS = Counter(
    "fourfold_notifications_dead_letters_total",
    "Deliveries dead-lettered after their last attempt (or a 410), by channel kind.",
    ["channel"],
)
DEAD_LETTERS_PENDING = Gauge(
    "fourfold_notifications_dead_letters_pending",
    "Deliveries currently dead-lettered and not retried by hand.",
)
DIGEST_SIZE = Histogram(
    "fourfold_notifications_digest_size",
    "Nudges per digest sent.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 500),
)
SCHEDULED_EVALUATIONS = Counter(
    "fourfold_notifications_scheduled_evaluations_total",
    "Customer snapshots evaluated by the time-based scheduler.",
)
