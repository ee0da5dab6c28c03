"""POST /v1/webhooks/chargebee: Chargebee's webhook endpoint (HTTP basic auth)."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fourfold.ingest.adapters import chargebee, repository, webhooks
from fourfold.ingest.adapters.metrics import WEBHOOK_AUTH_FAILURES, WEBHOOK_EVENTS
from fourfold.ingest.adapters.schemas import WebhookReceipt
from fourfold.ingest.adapters.translation import Outcome, PayloadError, Translation
from fourfold.ingest.api import Runtime
from fourfold.ingest.errors import AdapterOff, BasicAuthFailed
from fourfold.ingest.publishing import database_outage_as_503
from fourfold.ingest.settings import IngestSettings
from fourfold.service.edge import authenticates_own_body
from fourfold.service.openapi import error_responses

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
log = logging.getLogger(__name__)
ADAPTER = "chargebee"

DESCRIPTION = """
Point a Chargebee webhook (API version v2) here with "Protect webhook URL with basic
authentication" on, the user and password being `FOURFOLD_INGEST_CHARGEBEE_USERNAME` and
`FOURFOLD_INGEST_CHARGEBEE_PASSWORD`, and the events `subscription_created`,
`subscription_changed`, `subscription_renewed`, `subscription_cancelled`,
`payment_succeeded`, `payment_failed`. The credential is checked (constant-time) before
the body is read: **401** otherwise, nothing published.

**200** with the outcome (`mapped`, `unmapped`, `ignored`, `rejected`, `duplicate`) as for
Stripe; **400** malformed JSON; **404** `adapter_not_configured` while no credential is set;
**503** broker or database down (Chargebee retries). The mapping table is in
docs/adapters.md.
"""


@router.post(
    "/chargebee",
    response_model=WebhookReceipt,
    summary="Receive a Chargebee webhook event",
    description=DESCRIPTION,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "received": True,
                        "adapter": "chargebee",
                        "event_id": "ev_16BPgETyVrQbiGhA",
                        "type": "subscription_changed",
                        "outcome": "mapped",
                        "reason": "",
                        "published": ["ev_16BPgETyVrQbiGhA"],
                        "duplicates": [],
                    }
                }
            }
        },
        **error_responses(
            400,
            401,
            404,
            413,
            503,
            descriptions={
                400: "Malformed JSON",
                401: "Missing or wrong basic-auth credential",
                404: "The Chargebee adapter is not configured",
                503: "Broker or database unavailable; Chargebee retries",
            },
        ),
    },
)
@authenticates_own_body
async def chargebee_webhook(request: Request, rt: Runtime) -> Response:
    settings = rt.settings
    _authenticate(request.headers.get("authorization"), settings)
    WEBHOOK_EVENTS.labels(ADAPTER, "received").inc()
    event = webhooks.decode(
        await request.body(),
        system="Chargebee",
        id_field="id",
        type_field="event_type",
    )
    rules = chargebee.ChargebeeMapping(
        source=settings.ingest_chargebee_source,
        partner_field=settings.ingest_chargebee_partner_field,
        renewal_min_months=settings.ingest_renewal_min_period_months,
    )
    last = None
    subscription = chargebee.subscription_of(event)
    if subscription is not None:
        with database_outage_as_503(rt):
            async with rt.sessions() as session:
                last = await repository.last_state(
                    session, adapter=ADAPTER, subscription_id=subscription
                )
    try:
        translation = chargebee.translate(event, rules, last=last)
    except PayloadError as exc:
        translation = Translation(Outcome.REJECTED, reason=f"unreadable payload: {exc}")
    receipt = await webhooks.deliver(
        rt,
        adapter=ADAPTER,
        event_id=event["id"],
        event_type=event["event_type"],
        translation=translation,
        payload=event,
    )
    # Encoded here: FastAPI would validate the model it was just built as, a second time.
    return Response(receipt.model_dump_json(), media_type="application/json")


def _authenticate(header: str | None, settings: IngestSettings) -> None:
    user, password = settings.ingest_chargebee_username, settings.ingest_chargebee_password
    if not user or password is None:
        raise AdapterOff(
            "the Chargebee adapter is off: set FOURFOLD_INGEST_CHARGEBEE_USERNAME and "
            "FOURFOLD_INGEST_CHARGEBEE_PASSWORD"
        )
    scheme, _, encoded = (header or "").partition(" ")
    given = b""
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            given = b""
    expected = f"{user}:{password.get_secret_value()}".encode()
    if not hmac.compare_digest(given, expected):
        reason = "missing" if not header else "credential"
        WEBHOOK_AUTH_FAILURES.labels(ADAPTER, reason).inc()
        log.warning("chargebee credential refused", extra={"reason": reason})
        raise BasicAuthFailed(
            "missing or wrong basic-auth credential: use the user and password set as "
            "FOURFOLD_INGEST_CHARGEBEE_USERNAME / _PASSWORD",
            realm="fourfold-chargebee",
        )
