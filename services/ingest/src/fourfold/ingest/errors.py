"""Ingest's own errors (the tree is in fourfold.errors)."""

from __future__ import annotations

from fourfold.errors import BadRequest, ValidationFailed


class MalformedJson(BadRequest):
    code = "malformed_json"


class EventsRejected(ValidationFailed):
    """Every event in the request was invalid; the detail lists each one's problems."""

    code = "events_rejected"
