"""Reading error answers in tests: the shared body, its `request_id` checked once here."""

from __future__ import annotations

from typing import Any

import httpx


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error body without `request_id`, after checking that it quotes the answer's
    `X-Request-ID` (an app without the shell sends no such header: then any id will do)."""
    body: dict[str, Any] = response.json()
    request_id = body.pop("request_id", None)
    assert isinstance(request_id, str), f"no request_id in {body}"
    assert request_id, "an empty request_id"
    if "x-request-id" in response.headers:
        assert request_id == response.headers["x-request-id"], (body, response.headers)
    return body
