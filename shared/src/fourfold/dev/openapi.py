"""Write each service's OpenAPI document to docs/openapi/ (`make schemas`); a test checks drift."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

# service → (its app factory, its settings class)
APPS = {
    "ingest": ("fourfold.ingest.app:create_app", "fourfold.ingest.settings:IngestSettings"),
    "health-scoring": (
        "fourfold.health.app:create_app",
        "fourfold.health.settings:HealthSettings",
    ),
}


def _load(target: str) -> Any:
    module_name, name = target.split(":")
    return getattr(importlib.import_module(module_name), name)


def build_app(service: str) -> Any:
    """The service's app, not started, with its settings' defaults: a broker or database URL
    in the environment changes nothing in the document (and cannot trip the secret check)."""
    factory, settings_class = APPS[service]
    settings = _load(settings_class)(kafka_bootstrap_servers=None, database_url=None)
    return _load(factory)(settings)


def render_openapi() -> dict[str, str]:
    """File name → OpenAPI JSON text, built from the apps without starting them."""
    documents: dict[str, str] = {}
    for service in APPS:
        document: dict[str, Any] = build_app(service).openapi()
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
