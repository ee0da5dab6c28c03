"""Errors of the health-scoring service, on the shared tree (`fourfold.errors`).

    FourfoldError
    ├── BadRequest ──────── InvalidCursor (400, invalid_cursor)
    ├── NotFound ────────── CustomerNotFound (404, not_found)
    └── ValidationFailed ── InvalidField (422, validation_failed)

Both field errors carry the shared detail shape: `[{"loc", "msg", "type"}]` naming the field.
"""

from __future__ import annotations

from fourfold.errors import InvalidCursor as InvalidCursor
from fourfold.errors import InvalidField as InvalidField
from fourfold.errors import NotFound

CUSTOMER_NOT_FOUND = "customer not found"
"""The one detail for a missing and for another partner's customer, so neither leaks."""


class CustomerNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(CUSTOMER_NOT_FOUND)
