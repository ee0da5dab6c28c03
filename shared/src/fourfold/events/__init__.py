"""Event contracts v1: CloudEvents 1.0 envelopes with typed `data`, one module per topic.

JSON Schemas generated from these models live in docs/events/ (`make schemas`).
"""

from fourfold.events.activity import *  # noqa: F403
from fourfold.events.billing import *  # noqa: F403
from fourfold.events.bounds import *  # noqa: F403
from fourfold.events.derived import *  # noqa: F403
from fourfold.events.envelope import Envelope, EventData
from fourfold.events.money import FormattedMoney, Money, MoneyTotal, format_amount
from fourfold.events.registry import *  # noqa: F403
from fourfold.events.usage import *  # noqa: F403

__all__ = ["Envelope", "EventData", "FormattedMoney", "Money", "MoneyTotal", "format_amount"]
