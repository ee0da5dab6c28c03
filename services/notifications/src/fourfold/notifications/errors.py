"""Errors of the notifications service, on the shared tree (`fourfold.errors`).

    FourfoldError
    ├── Conflict ────────── NudgeClosed (409, nudge_closed), DeliveryNotDead (409, …)
    ├── BadRequest ──────── InvalidCursor (400, invalid_cursor)
    ├── NotFound ────────── NudgeNotFound, ChannelNotFound, DeliveryNotFound (404, not_found)
    └── ValidationFailed ── InvalidField, InvalidRules (422, validation_failed)

Field errors carry the shared detail shape: `[{"loc", "msg", "type"}]` naming the field.
"""

from __future__ import annotations

from typing import Any

from fourfold.errors import Conflict as Conflict
from fourfold.errors import InvalidCursor as InvalidCursor
from fourfold.errors import InvalidField as InvalidField
from fourfold.errors import NotFound, ValidationFailed


class NudgeClosed(Conflict):
    code = "nudge_closed"


class DeliveryNotDead(Conflict):
    code = "delivery_not_dead"

    def __init__(self, status: str) -> None:
        super().__init__(f"only a dead-lettered delivery can be retried by hand (it is {status})")


class NudgeNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("nudge not found")


class ChannelNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("channel not found")


class DeliveryNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("delivery not found")


class InvalidRules(ValidationFailed):
    """A rule configuration that does not validate: each error names its field."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__([{**e, "loc": ["body", *e["loc"]]} for e in errors])
