"""Write each service's OpenAPI document to docs/openapi/ (`make schemas`); a test checks drift."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

# service → its app factory
APPS = {
    "ingest": "fourfold.ingest.app:create_app",
    "health-scoring": "fourfold.health.app:create_app",
    "notifications": "fourfold.notifications.app:create_app",
}


def render_openapi() -> dict[str, str]:
    """File name → OpenAPI JSON text, built from the apps without starting them."""
    documents: dict[str, str] = {}
    for service, target in APPS.items():
        module_name, factory = target.split(":")
        app = getattr(importlib.import_module(module_name), factory)()
        document: dict[str, Any] = app.openapi()
        documents[f"{service}.json"] = json.dumps(document, indent=2, sort_keys=True) + "\n"
    return documents


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "docs/openapi")
    target.mkdir(parents=True, exist_ok=True)
    for name, text in render_openapi().items():
        (target / name).write_text(text)
        print(target / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
