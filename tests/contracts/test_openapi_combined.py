"""The combined public document (docs/openapi/fourfold.json, served at the gateway's
/openapi.json): every routed operation of every service, nothing internal, schema names
kept apart when two services mean different things by one name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fourfold.dev.openapi import COMBINED, combined_openapi
from fourfold.gateway import route_map

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"


def _op(ref: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ref}"}
    return {"get": {"responses": {"200": {"content": {"application/json": {"schema": schema}}}}}}


def _doc(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.1.0", "paths": paths, "components": {"schemas": schemas}}


def test_routed_operations_only_each_marked_with_its_service() -> None:
    combined = combined_openapi(
        {
            "ingest": _doc({"/v1/events": _op("A"), "/healthz": _op("A")}, {"A": {}}),
            "health-scoring": _doc(
                {"/v1/customers/{id}/health": _op("A"), "/v1/events": _op("A")}, {"A": {}}
            ),
        }
    )
    assert sorted(combined["paths"]) == ["/v1/customers/{id}/health", "/v1/events"]
    assert combined["paths"]["/v1/events"]["get"]["x-fourfold-service"] == "ingest"
    health = combined["paths"]["/v1/customers/{id}/health"]["get"]
    assert health["x-fourfold-service"] == "health-scoring"
    assert combined["components"]["schemas"] == {"A": {}}, "one shape, one schema"


def test_a_name_two_services_define_differently_is_prefixed_and_its_refs_follow() -> None:
    combined = combined_openapi(
        {
            "ingest": _doc({"/v1/events": _op("Milestone")}, {"Milestone": {"type": "string"}}),
            "health-scoring": _doc(
                {"/v1/partners/{p}/customers": _op("Milestone")},
                {"Milestone": {"type": "object"}},
            ),
        }
    )
    schemas = combined["components"]["schemas"]
    assert "Milestone" not in schemas
    assert schemas["IngestMilestone"] == {"type": "string"}
    assert schemas["HealthScoringMilestone"] == {"type": "object"}
    refs = json.dumps(combined["paths"])
    assert '"#/components/schemas/IngestMilestone"' in refs
    assert '"#/components/schemas/HealthScoringMilestone"' in refs
    assert '"#/components/schemas/Milestone"' not in refs


def test_the_committed_document_has_every_public_operation_of_every_service() -> None:
    combined = json.loads((DOCS / COMBINED).read_text(encoding="utf-8"))
    routes = route_map()
    for path in sorted(DOCS.glob("*.json")):
        if path.name == COMBINED:
            continue
        service = path.stem
        for route, operations in json.loads(path.read_text(encoding="utf-8"))["paths"].items():
            routed = [p for p in routes if route == p or route.startswith(p + "/")]
            if not routed or routes[routed[0]] != service:
                assert route not in combined["paths"], route
                continue
            for method in operations:
                assert combined["paths"][route][method]["x-fourfold-service"] == service
    refs = set(
        ref.rsplit("/", 1)[1] for ref in _refs(combined) if ref.startswith("#/components/schemas/")
    )
    assert refs <= set(combined["components"]["schemas"]), "every $ref resolves"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []
