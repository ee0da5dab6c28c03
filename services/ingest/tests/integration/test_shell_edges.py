"""Ingest behind the shared shell: unstorable lookups are 422s naming the parameter, the body
limit is the shell's (one mechanism, set by FOURFOLD_MAX_BODY_BYTES)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fourfold.ingest.settings import IngestSettings
from fourfold.testing.errors import error_of

from ..conftest import running_client  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration


def unstorable(where: str, name: str) -> list[dict[str, Any]]:
    return [
        {
            "loc": [where, name],
            "msg": "must not contain NUL (\\u0000) or an unpaired surrogate",
            "type": "string_unstorable",
        }
    ]


async def test_a_nul_in_a_lookup_is_a_422_naming_the_parameter(
    client: httpx.AsyncClient, auth_header: Any
) -> None:
    cases = [
        ("/v1/events/src/x%00", ("path", "event_id")),
        ("/v1/events/s%00rc/x", ("path", "source")),
        ("/v1/events?source=a%00&id=b", ("query", "source")),
        ("/v1/events?source=a&id=%00", ("query", "id")),
    ]
    for path, problem in cases:
        response = await client.get(path, headers=auth_header("admin"))
        assert response.status_code == 422, (path, response.text)
        assert error_of(response) == {"error": "validation_failed", "detail": unstorable(*problem)}


async def test_the_body_limit_is_the_shells_setting(
    ingest_settings: IngestSettings, auth_header: Any
) -> None:
    settings = ingest_settings.model_copy(update={"max_body_bytes": 2048})
    async with running_client(settings) as client:
        body = b'{"pad": "' + b"x" * 3000 + b'"}'
        headers = {"content-type": "application/cloudevents+json", **auth_header()}
        response = await client.post("/v1/events", content=body, headers=headers)
        assert response.status_code == 413
        assert error_of(response) == {
            "error": "payload_too_large",
            "detail": "request body exceeds 2048 bytes",
        }
        anonymous = await client.post(
            "/v1/events", content=body, headers={"content-type": "application/cloudevents+json"}
        )
        assert anonymous.status_code == 401, "the token is checked before the size"
