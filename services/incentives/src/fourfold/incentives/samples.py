"""Valid lifecycle events for one customer's life, for tests, the benchmark and a demo.

Every builder takes the instant and amounts explicitly and gives each event a fresh id (or
the one passed), so callers state exactly what they expect the rules to pay.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fourfold.events import (
    Band,
    CustomerPartnerChanged,
    Envelope,
    HealthChanged,
    LifecycleStep,
    MilestoneCompleted,
    PartnerCertified,
    PartnerTierChanged,
    SubscriptionAddonAdded,
    SubscriptionCancelled,
    SubscriptionContracted,
    SubscriptionCreated,
    SubscriptionExpanded,
    SubscriptionRenewed,
)

SOURCE = "fourfold/samples"


def _money(amount: str | Decimal, currency: str) -> dict[str, str]:
    return {"amount": str(amount), "currency": currency}


def _event(kind: type[Envelope], type_: str, at: datetime, data: Any, id_: str | None) -> Any:
    return kind.model_validate(
        {"id": id_ or uuid.uuid4().hex, "source": SOURCE, "type": type_, "time": at, "data": data}
    )


class Customer:
    """Events of one customer's subscription with one partner, in one currency."""

    def __init__(
        self,
        customer_id: str,
        partner_id: str,
        currency: str = "USD",
        *,
        id_prefix: str | None = None,
    ) -> None:
        """`id_prefix` makes event ids deterministic (`<prefix>-1`, `<prefix>-2`, …)."""
        self.customer_id, self.partner_id, self.currency = customer_id, partner_id, currency
        self.mrr = Decimal(0)
        self._id_prefix, self._count = id_prefix, 0

    def _id(self, given: str | None) -> str | None:
        self._count += 1
        if given is not None or self._id_prefix is None:
            return given
        return f"{self._id_prefix}-{self._count}"

    def _ref(self) -> dict[str, str]:
        return {
            "subscription_id": f"sub-{self.customer_id}",
            "customer_id": self.customer_id,
            "partner_id": self.partner_id,
        }

    def created(self, at: datetime, mrr: str, *, id_: str | None = None) -> SubscriptionCreated:
        self.mrr = Decimal(mrr)
        data = {
            **self._ref(),
            "plan": "pro",
            "seats": 10,
            "mrr": _money(mrr, self.currency),
            "start_date": at.date().isoformat(),
            "term_end": date(at.year + 1, at.month, min(at.day, 28)).isoformat(),
        }
        return _event(SubscriptionCreated, "subscription.created", at, data, self._id(id_))  # type: ignore[no-any-return]

    def milestone(self, at: datetime, name: str, *, id_: str | None = None) -> MilestoneCompleted:
        data = {
            "customer_id": self.customer_id,
            "partner_id": self.partner_id,
            "milestone": name,
            "completed_at": at,
        }
        return _event(MilestoneCompleted, "milestone.completed", at, data, self._id(id_))  # type: ignore[no-any-return]

    def expanded(self, at: datetime, mrr: str, *, id_: str | None = None) -> SubscriptionExpanded:
        previous, self.mrr = self.mrr, Decimal(mrr)
        data = {
            **self._ref(),
            "previous_plan": "pro",
            "plan": "pro",
            "previous_seats": 10,
            "seats": 20,
            "previous_mrr": _money(previous, self.currency),
            "mrr": _money(mrr, self.currency),
        }
        return _event(SubscriptionExpanded, "subscription.expanded", at, data, self._id(id_))  # type: ignore[no-any-return]

    def addon(
        self, at: datetime, addon_mrr: str, *, id_: str | None = None
    ) -> SubscriptionAddonAdded:
        self.mrr += Decimal(addon_mrr)
        data = {
            **self._ref(),
            "addon": "analytics",
            "addon_mrr": _money(addon_mrr, self.currency),
            "mrr": _money(self.mrr, self.currency),
        }
        return _event(SubscriptionAddonAdded, "subscription.addon_added", at, data, self._id(id_))  # type: ignore[no-any-return]

    def contracted(
        self, at: datetime, mrr: str, *, id_: str | None = None
    ) -> SubscriptionContracted:
        previous, self.mrr = self.mrr, Decimal(mrr)
        data = {
            **self._ref(),
            "previous_plan": "pro",
            "plan": "pro",
            "previous_seats": 20,
            "seats": 10,
            "previous_mrr": _money(previous, self.currency),
            "mrr": _money(mrr, self.currency),
        }
        return _event(SubscriptionContracted, "subscription.contracted", at, data, self._id(id_))  # type: ignore[no-any-return]

    def renewed(
        self, at: datetime, mrr: str | None = None, *, id_: str | None = None
    ) -> SubscriptionRenewed:
        if mrr is not None:
            self.mrr = Decimal(mrr)
        data = {
            **self._ref(),
            "plan": "pro",
            "seats": 10,
            "mrr": _money(self.mrr, self.currency),
            "term_start": at.date().isoformat(),
            "term_end": date(at.year + 1, at.month, min(at.day, 28)).isoformat(),
        }
        return _event(SubscriptionRenewed, "subscription.renewed", at, data, self._id(id_))  # type: ignore[no-any-return]

    def cancelled(self, at: datetime, *, id_: str | None = None) -> SubscriptionCancelled:
        data = {**self._ref(), "effective_date": at.date().isoformat()}
        return _event(SubscriptionCancelled, "subscription.cancelled", at, data, self._id(id_))  # type: ignore[no-any-return]

    def health(
        self,
        scored_at: datetime,
        band: str,
        *,
        previous: str | None = None,
        sent: datetime | None = None,
        id_: str | None = None,
    ) -> HealthChanged:
        """A `health.changed` scored at `scored_at` (its event time is `sent`, default the same)."""
        score = {"green": 80, "yellow": 55, "red": 20, "unknown": None}[band]
        data = {
            "customer_id": self.customer_id,
            "partner_id": self.partner_id,
            "score": score,
            "previous_score": None,
            "band": Band(band),
            "previous_band": None if previous is None else Band(previous),
            "step": LifecycleStep.IMPROVE,
            "previous_step": None,
            "scorecard_version": "test",
            "scored_at": scored_at,
            "signals": {"partner_id": self.partner_id},
        }
        return _event(HealthChanged, "health.changed", sent or scored_at, data, self._id(id_))  # type: ignore[no-any-return]

    def partner_changed(
        self, at: datetime, partner_id: str, *, id_: str | None = None
    ) -> CustomerPartnerChanged:
        data = {
            "customer_id": self.customer_id,
            "previous_partner_id": self.partner_id,
            "partner_id": partner_id,
            "effective_at": at,
        }
        self.partner_id = partner_id
        return _event(CustomerPartnerChanged, "customer.partner_changed", at, data, self._id(id_))  # type: ignore[no-any-return]


def tier_changed(
    partner_id: str, tier: str, at: datetime, *, id_: str | None = None
) -> PartnerTierChanged:
    data = {"partner_id": partner_id, "tier": tier, "effective_at": at}
    return _event(PartnerTierChanged, "partner.tier_changed", at, data, id_)  # type: ignore[no-any-return]


def certified(
    partner_id: str, certification: str, at: datetime, *, id_: str | None = None
) -> PartnerCertified:
    data = {"partner_id": partner_id, "certification": certification, "certified_at": at}
    return _event(PartnerCertified, "partner.certified", at, data, id_)  # type: ignore[no-any-return]
