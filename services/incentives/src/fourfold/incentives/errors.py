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

from fourfold.errors import BadRequest, FourfoldError, NotFound, ValidationFailed


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


class Conflict(FourfoldError):
    status_code = 409
    code = "conflict"


class InvalidCursor(BadRequest):
    code = "invalid_cursor"

    def __init__(self, msg: str) -> None:
        super().__init__([{"loc": ["query", "cursor"], "msg": msg, "type": "value_error"}])


class InvalidField(ValidationFailed):
    """A value that passed its type but not a rule that spans the request (e.g. from < to)."""

    def __init__(self, where: str, field: str, msg: str) -> None:
        super().__init__([{"loc": [where, field], "msg": msg, "type": "value_error"}])


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
