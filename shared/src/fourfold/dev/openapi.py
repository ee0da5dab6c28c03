"""Write each service's OpenAPI document to docs/openapi/ (`make schemas`), and the combined
document of the public API (`fourfold.json`: every operation the gateway routes, the one
the gateway serves at /openapi.json); a test checks drift."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from fourfold.gateway import ROUTES

# service → (its app factory, its settings class)
APPS = {
    "ingest": ("fourfold.ingest.app:create_app", "fourfold.ingest.settings:IngestSettings"),
    "health-scoring": (
        "fourfold.health.app:create_app",
        "fourfold.health.settings:HealthSettings",
    ),
    "incentives": (
        "fourfold.incentives.app:create_app",
        "fourfold.incentives.settings:IncentivesSettings",
    ),
    "notifications": (
        "fourfold.notifications.app:create_app",
        "fourfold.notifications.settings:NotificationsSettings",
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


COMBINED = "fourfold.json"
"""The combined public document's file name in docs/openapi/."""


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def render_openapi() -> dict[str, str]:
    """File name → OpenAPI JSON text, built from the apps without starting them."""
    built = {service: build_app(service).openapi() for service in APPS}
    documents = {f"{service}.json": _text(document) for service, document in built.items()}
    documents[COMBINED] = _text(combined_openapi(built))
    return documents


def public_openapi(services: list[str]) -> dict[str, Any]:
    """The combined public document of `services` (those a gateway routes to)."""
    return combined_openapi({service: build_app(service).openapi() for service in services})


def combined_openapi(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One document for the public API behind the gateway: each service's operations under
    the gateway's route prefixes for that service (never /healthz, /readyz, /metrics), each
    marked with `x-fourfold-service`. Schemas of the same name and shape are shared; a name
    two services define differently is prefixed with the service (`HealthScoringMilestone`)."""
    schemas: dict[str, Any] = {}
    security: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for service, document in documents.items():
        own = document.get("components", {}).get("schemas", {})
        renamed = {
            name: _prefixed(service, name)
            for name, schema in own.items()
            if _defined_elsewhere(name, schema, service, documents)
        }
        text = json.dumps(document)
        for name, new in renamed.items():
            text = text.replace(f'"#/components/schemas/{name}"', f'"#/components/schemas/{new}"')
        document = json.loads(text)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schemas[renamed.get(name, name)] = schema
        security |= document.get("components", {}).get("securitySchemes", {})
        for path, operations in document.get("paths", {}).items():
            if _routed(path) != service:
                continue
            paths[path] = {
                method: {**operation, "x-fourfold-service": service}
                for method, operation in operations.items()
            }
    return {
        "openapi": next(iter(documents.values()), {}).get("openapi", "3.1.0"),
        "info": {
            "title": "Fourfold",
            "version": "1",
            "description": (
                "The public API at the gateway: one base URL for ingest, health-scoring, "
                "incentives and notifications. Each operation's `x-fourfold-service` names the "
                "service behind it."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": security},
    }


def _routed(path: str) -> str | None:
    """The service the gateway routes `path` to (None: the gateway answers 404)."""
    for route in ROUTES:
        if path == route.prefix or path.startswith(route.prefix + "/"):
            return route.service
    return None


def _defined_elsewhere(
    name: str, schema: Any, service: str, documents: dict[str, dict[str, Any]]
) -> bool:
    for other, document in documents.items():
        theirs = document.get("components", {}).get("schemas", {}).get(name)
        if other != service and theirs is not None and theirs != schema:
            return True
    return False


def _prefixed(service: str, name: str) -> str:
    return "".join(part.capitalize() for part in service.split("-")) + name


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
