"""The published OpenAPI documents list what the services answer, with the shared body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from fourfold.dev.openapi import render_openapi
from fourfold.events.registry import INPUT_EVENT_TYPES

DOCUMENTS = {name: json.loads(text) for name, text in render_openapi().items()}
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
METHODS = {"get", "put", "post", "delete", "patch"}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def error_schema(operation: dict[str, Any], status: int) -> Any:
    response = operation["responses"].get(str(status))
    assert response is not None, f"{status} missing"
    return response["content"]["application/json"]["schema"]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_protected_route_lists_401_403_and_the_shared_body(name: str) -> None:
    document = DOCUMENTS[name]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in operations(document):
        where = f"{name}: {method.upper()} {path}"
        for status in operation["responses"]:
            if status.startswith(("4", "5")):
                assert error_schema(operation, int(status)) == ERROR_REF, (where, status)
        if operation.get("security"):
            for status in (401, 403):
                assert error_schema(operation, status) == ERROR_REF, (where, status)
        if operation.get("parameters") or operation.get("requestBody"):
            assert error_schema(operation, 422) == ERROR_REF, where
        if operation.get("requestBody"):
            for status in (401, 408, 413):
                assert error_schema(operation, status) == ERROR_REF, (where, status)
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            assert "404" in operation["responses"], where


def test_ingest_takes_the_real_event_schemas() -> None:
    document = DOCUMENTS["ingest.json"]
    body = document["paths"]["/v1/events"]["post"]["requestBody"]
    assert body["required"] is True
    single = body["content"]["application/cloudevents+json"]["schema"]
    refs = {item["$ref"].rsplit("/", 1)[1] for item in single["oneOf"]}
    assert refs == {model.__name__ for model in INPUT_EVENT_TYPES.values()}
    assert single["discriminator"]["propertyName"] == "type"
    batch = body["content"]["application/cloudevents-batch+json"]["schema"]
    assert batch["type"] == "array"
    assert batch["minItems"] == 1
    assert batch["items"]["oneOf"] == single["oneOf"]
    for ref in refs:
        assert ref in document["components"]["schemas"], ref
    for status in (400, 413, 415, 422, 503):
        assert error_schema(document["paths"]["/v1/events"]["post"], status) == ERROR_REF


def test_health_schemas_refuse_what_the_service_refuses() -> None:
    document = DOCUMENTS["health-scoring.json"]
    book = document["paths"]["/v1/partners/{partner_id}/customers"]["get"]
    cursor = next(p for p in book["parameters"] if p["name"] == "cursor")
    assert {"type": "string", "minLength": 1} in cursor["schema"]["anyOf"]
    assert "400" in book["responses"], "invalid_cursor is documented"
    override = document["components"]["schemas"]["OverrideIn"]
    validator = Draft202012Validator(override)
    later = "2030-01-01T00:00:00Z"
    assert not validator.is_valid({"reason": "r", "expires_at": later}), "neither score nor band"
    assert not validator.is_valid({"score": None, "reason": "r", "expires_at": later})
    assert not validator.is_valid({"score": 5, "reason": "  ", "expires_at": later}), "blank"
    assert validator.is_valid({"score": 5, "reason": "r", "expires_at": later})
    assert validator.is_valid({"band": "red", "reason": "r", "expires_at": later})
    assert validator.is_valid({"band": "red", "score": None, "reason": "r", "expires_at": later})
