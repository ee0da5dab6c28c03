"""POST /v1/events in CloudEvents HTTP binary content mode (`ce-*` headers, body = data).

A request carrying `ce-specversion` (and not typed `application/cloudevents+json`) is binary
mode, the binding's own rule; it becomes the structured event it stands for and takes the
same road: validation, dedupe, publishing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from starlette.datastructures import Headers

from fourfold.errors import ValidationFailed
from fourfold.events.binary_mode import BinaryModeError, relocate, to_structured
from fourfold.ingest.schemas import EventResult

PREFIX = "ce-"


def is_binary(headers: Headers) -> bool:
    """A `ce-specversion` header, unless the content type names a structured or batch event."""
    return binary_by("ce-specversion" in headers, headers.get("content-type", ""))


def binary_by(has_specversion: bool, content_type: str) -> bool:
    """`is_binary` from what it looks at: whether `ce-specversion` is there, the content type."""
    return has_specversion and not content_type.lstrip().lower().startswith(
        "application/cloudevents"
    )


def event_from(headers: Headers, body: bytes) -> dict[str, Any]:
    """The structured event; a missing or unusable header is a 422 naming it."""
    attributes = {
        name[len(PREFIX) :]: unquote(value)  # the binding percent-encodes header values
        for name, value in headers.items()
        if name.startswith(PREFIX)
    }
    try:
        return to_structured(attributes, body, headers.get("content-type"), prefix=PREFIX)
    except BinaryModeError as exc:
        raise ValidationFailed(exc.problems) from exc


def relocated(rejected: list[EventResult]) -> list[EventResult]:
    """Rejections that name the `ce-` header or body path the producer must fix."""
    return [
        result.model_copy(update={"errors": relocate(result.errors, prefix=PREFIX)})
        for result in rejected
    ]
