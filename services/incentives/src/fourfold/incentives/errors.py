"""Errors of the incentives service, on the shared tree (`fourfold.errors`).

    FourfoldError
    ├── BadRequest ──────── InvalidCursor (400, invalid_cursor)
    ├── NotFound ────────── EntryNotFound, StatementNotFound, DisputeNotFound,
    │                       ProgramNotFound (404, not_found)
    ├── ValidationFailed ── InvalidField (422, validation_failed)
    │                       InvalidProgram (422, invalid_program: each problem names
    │                       the field and its YAML line)
    └── Conflict (409, conflict): a state change the current state does not allow (approve
                           a held entry, pay an unapproved statement, edit a paid one)

Field errors carry the shared detail shape: `[{"loc", "msg", "type"}]` naming the field.
"""

from __future__ import annotations

from typing import Any

from fourfold.errors import Conflict as Conflict
from fourfold.errors import InvalidCursor as InvalidCursor
from fourfold.errors import InvalidField as InvalidField
from fourfold.errors import NotFound, ValidationFailed


class EntryNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("entry not found")


class StatementNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("statement not found")


class DisputeNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("dispute not found")


class ProgramNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("program version not found")


class InvalidProgram(ValidationFailed):
    code = "invalid_program"

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(
            [
                {
                    "loc": ["body", *p["loc"]],
                    "line": p.get("line"),
                    "msg": p["msg"],
                    "type": p["type"],
                }
                for p in problems
            ]
        )
