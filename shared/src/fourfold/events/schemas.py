"""Generate the JSON Schemas of every event type into docs/events/ (and check them for drift).

Run `fourfold schemas docs/events` (or `make schemas`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fourfold.events.registry import (
    ALL_EVENT_TYPES,
    INPUT_EVENT_TYPES,
    SCHEMA_VERSION,
)


def render_schemas() -> dict[str, str]:
    """File name → schema text, one file per event type, stable and sorted."""
    files: dict[str, str] = {}
    for event_type, model in sorted(ALL_EVENT_TYPES.items()):
        schema: dict[str, Any] = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://fourfold.dev/schemas/{SCHEMA_VERSION}/{event_type}.json"
        schema["x-fourfold-topic"] = model.topic
        schema["x-fourfold-direction"] = "input" if event_type in INPUT_EVENT_TYPES else "derived"
        files[f"{SCHEMA_VERSION}/{event_type}.json"] = (
            json.dumps(schema, indent=2, sort_keys=True) + "\n"
        )
    return files


def write_schemas(target: Path) -> list[Path]:
    """Write every schema under `target` (created); the paths written."""
    written = []
    for name, text in render_schemas().items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
