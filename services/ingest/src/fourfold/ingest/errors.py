"""Ingest's own errors (the tree is in fourfold.errors)."""

from __future__ import annotations

from fourfold.errors import BadRequest, FourfoldError, NotFound, ValidationFailed


class MalformedJson(BadRequest):
    code = "malformed_json"


class EventsRejected(ValidationFailed):
    """Every event in the request was invalid; the detail lists each one's problems."""

    code = "events_rejected"


class SignatureInvalid(BadRequest):
    """A webhook whose signature does not verify (Stripe answers such a 400 by retrying
    until the secret is fixed, so nothing is lost while it is)."""

    code = "signature_invalid"


class AdapterOff(NotFound):
    """The adapter's secret or credential is not set: the route is off."""

    code = "adapter_not_configured"


class BasicAuthFailed(FourfoldError):
    """A webhook whose HTTP basic-auth credential does not match the configured one."""

    status_code = 401
    code = "unauthenticated"

    def __init__(self, detail: str, *, realm: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": f'Basic realm="{realm}"'})
