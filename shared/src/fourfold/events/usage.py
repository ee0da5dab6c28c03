"""Product usage (topic `product.usage`): the Implement and Improve signals."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import StringConstraints, model_validator

from fourfold.events.bounds import EventTime, Identifier, Quantity
from fourfold.events.envelope import Envelope, EventData

USAGE_TOPIC = "product.usage"

# active_users, seats_used, or feature:<key> for one feature's use.
UsageMetric = Annotated[
    str, StringConstraints(pattern=r"^(active_users|seats_used|feature:[a-z0-9_.\-]{1,64})$")
]


class UsageReportedData(EventData):
    """One measurement of a metric over a period, placed by the period, not by arrival."""

    customer_id: Identifier
    metric: UsageMetric
    value: Quantity
    period_start: EventTime
    period_end: EventTime

    @model_validator(mode="after")
    def _period_is_ordered(self) -> UsageReportedData:
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        return self


class UsageReported(Envelope):
    topic: ClassVar[str] = USAGE_TOPIC
    type: Literal["usage.reported"]
    data: UsageReportedData
