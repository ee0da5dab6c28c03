"""The JSON Schemas in docs/events/ are exactly what the event models generate today."""

from __future__ import annotations

from pathlib import Path

import pytest

from fourfold.events.registry import ALL_EVENT_TYPES, SCHEMA_VERSION
from fourfold.events.schemas import render_schemas

DOCS_EVENTS = Path(__file__).resolve().parents[3] / "docs" / "events"
RENDERED = render_schemas()
FIX = "run `make schemas` and commit docs/events/"


def test_one_schema_per_event_type() -> None:
    assert set(RENDERED) == {f"{SCHEMA_VERSION}/{name}.json" for name in ALL_EVENT_TYPES}


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_committed_schema_matches_the_models(name: str) -> None:
    path = DOCS_EVENTS / name
    assert path.is_file(), f"docs/events/{name} is missing: {FIX}"
    assert path.read_text() == RENDERED[name], f"docs/events/{name} drifted from the model: {FIX}"


def test_no_stray_schema_files() -> None:
    committed = {
        path.relative_to(DOCS_EVENTS).as_posix()
        for path in (DOCS_EVENTS / SCHEMA_VERSION).iterdir()
        if path.is_file()
    }
    stray = sorted(committed - set(RENDERED))
    assert not stray, f"no event model produces {stray}: delete them, then {FIX}"
