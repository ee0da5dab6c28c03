"""docs/openapi/ is what the apps serve: regenerate with `make schemas` when a route changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from fourfold.dev.openapi import render_openapi

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"
RENDERED = render_openapi()


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_committed_openapi_matches_the_app(name: str) -> None:
    committed = DOCS / name
    assert committed.exists(), f"{committed} is missing: run `make schemas`"
    assert committed.read_text() == RENDERED[name], f"{name} drifted: run `make schemas`"


def test_every_route_has_a_description() -> None:
    import json

    for name, text in RENDERED.items():
        for path, operations in json.loads(text)["paths"].items():
            for method, operation in operations.items():
                assert operation.get("description") or operation.get("summary"), (
                    f"{name}: {method.upper()} {path} has no description"
                )
