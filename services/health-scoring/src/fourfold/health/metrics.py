"""The health-scoring service's own Prometheus metrics (beside the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter

HEALTH_SCORES = Counter(
    "fourfold_health_scores_total", "Customer scores computed, by resulting band.", ["band"]
)
SCHEDULED_RECOMPUTES = Counter(
    "fourfold_health_scheduled_recomputes_total",
    "Customers rescored by the time-based scheduler.",
)
