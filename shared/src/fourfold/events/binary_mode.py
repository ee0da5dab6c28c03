"""CloudEvents binary content mode: attributes in headers, `data` in the body or value.

The HTTP binding names attributes `ce-<name>` (values percent-encoded), the Kafka binding
`ce_<name>` (UTF-8); in both the payload is the event's `data`, typed by `content-type`.
Both come here as a name → text map and leave as the structured event they stand for, so
validation, dedupe and publishing are the ones every structured event goes through.
A problem names the header the producer must fix (`ce-id`, `ce_time`, `content-type`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from fourfold.events.problems import FieldProblem

# CloudEvents requires the first four; Fourfold requires `time` (handlers order by it).
REQUIRED: Final = ("specversion", "id", "source", "type", "time")
JSON_MEDIA_TYPE: Final = "application/json"


class BinaryModeError(ValueError):
    """A binary-mode event that cannot become a structured one; `problems` name headers."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{_where(p)}: {p['msg']}" for p in problems))
        self.problems = problems


def _where(problem: FieldProblem) -> str:
    """`ce_id`, `content-type`, `body.seats`: the header's name, or the path in the data."""
    loc = problem["loc"]
    return ".".join(str(part) for part in (loc[1:] if loc[:1] == ["header"] else loc))


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    """JSON data: no content type (the event format's own, JSON), `application/json`, `+json`."""
    kind = media_type(content_type)
    return kind in {"", JSON_MEDIA_TYPE} or kind.endswith("+json")


def to_structured(
    attributes: Mapping[str, str],
    data: bytes | None,
    content_type: str | None,
    *,
    prefix: str,
) -> dict[str, Any]:
    """The structured event for `attributes` (names without `prefix`) and the data bytes.

    Raises BinaryModeError naming `<prefix><attribute>` for a missing required attribute,
    `content-type` for data that is not JSON, and `body` for JSON that does not parse.
    """
    missing = [name for name in REQUIRED if not attributes.get(name)]
    problems: list[FieldProblem] = [
        {
            "loc": ["header", f"{prefix}{name}"],
            "msg": f"required CloudEvents attribute missing: send the {prefix}{name} header",
            "type": "missing",
        }
        for name in missing
    ]
    if not is_json(content_type):
        problems.append(
            {
                "loc": ["header", "content-type"],
                "msg": f"data must be JSON (application/json), not {media_type(content_type)!r}",
                "type": "content_type",
            }
        )
    if problems:
        raise BinaryModeError(problems)
    event: dict[str, Any] = dict(attributes)
    if media_type(content_type) == JSON_MEDIA_TYPE:
        event["datacontenttype"] = JSON_MEDIA_TYPE
    try:
        event["data"] = orjson.loads(data or b"")
    except orjson.JSONDecodeError as exc:
        raise BinaryModeError(
            [{"loc": ["body"], "msg": f"data is not valid JSON: {exc}", "type": "json_invalid"}]
        ) from exc
    return event


def relocate(problems: Iterable[FieldProblem], *, prefix: str) -> list[FieldProblem]:
    """Point a structured event's problems at where a binary-mode producer wrote them."""
    moved: list[FieldProblem] = []
    for problem in problems:
        loc = problem["loc"]
        if loc and loc[0] == "data":
            loc = ["body", *loc[1:]]
        elif loc and isinstance(loc[0], str):
            loc = ["header", f"{prefix}{loc[0]}", *loc[1:]]
        moved.append({**problem, "loc": loc})
    return moved


__all__ = ["REQUIRED", "BinaryModeError", "is_json", "relocate", "to_structured"]
