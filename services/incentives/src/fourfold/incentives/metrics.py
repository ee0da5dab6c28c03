"""The incentives service's own Prometheus metrics (beside the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter

ENTRIES = Counter(
    "fourfold_incentives_entries_total",
    "Ledger entries written, by kind (accrual, reversal, adjustment), rule and currency.",
    ["kind", "rule", "currency"],
)
AMOUNT = Counter(
    "fourfold_incentives_amount_total",
    "Sum of the magnitudes of the amounts written, by kind, rule and currency.",
    ["kind", "rule", "currency"],
)
CAP_HITS = Counter(
    "fourfold_incentives_cap_hits_total",
    "Entries cut by a partner's cap for the period, by rule and currency.",
    ["rule", "currency"],
)
DUPLICATE_ENTRIES = Counter(
    "fourfold_incentives_duplicate_entries_total",
    "Entries not written because the same (event, rule, partner) was already in the ledger.",
)
ADOPTION_SWEEP_BONUSES = Counter(
    "fourfold_incentives_adoption_sweep_bonuses_total",
    "Adoption bonuses the scheduled sweep paid (streaks no later event had closed).",
)
