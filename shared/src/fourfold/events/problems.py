"""Turn pydantic validation errors into field paths a client (or a DLQ reader) can act on."""

from __future__ import annotations

from pydantic import ValidationError
from typing_extensions import TypedDict

from fourfold.events.registry import ALL_EVENT_TYPES


class FieldProblem(TypedDict):
    loc: list[str | int]
    msg: str
    type: str


def field_problems(exc: ValidationError) -> list[FieldProblem]:
    """Paths read as the client wrote them: the discriminator tag pydantic adds is dropped."""
    problems: list[FieldProblem] = []
    for error in exc.errors(include_url=False):
        loc: list[str | int] = list(error["loc"])
        if loc and loc[0] in ALL_EVENT_TYPES:
            loc = loc[1:]
        if error["type"] in {"union_tag_invalid", "union_tag_not_found"}:
            loc = ["type"]
            expected = (error.get("ctx") or {}).get("expected_tags")
            msg = "unknown or missing event type; expected one of: " + (
                str(expected) if expected else ", ".join(sorted(ALL_EVENT_TYPES))
            )
        else:
            msg = error["msg"]
        problems.append({"loc": loc, "msg": msg, "type": error["type"]})
    return problems


def problems_summary(problems: list[FieldProblem]) -> str:
    """One line for logs and DLQ headers."""
    return "; ".join(
        ".".join(str(p) for p in item["loc"]) + ": " + item["msg"] for item in problems
    )


def json_problem(msg: str) -> list[FieldProblem]:
    return [{"loc": [], "msg": msg, "type": "json_invalid"}]


__all__ = ["FieldProblem", "field_problems", "json_problem", "problems_summary"]
