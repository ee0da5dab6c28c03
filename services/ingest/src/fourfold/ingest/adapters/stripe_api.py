"""POST /v1/webhooks/stripe: Stripe's webhook endpoint."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fourfold.ingest.adapters import repository, stripe, webhooks
from fourfold.ingest.adapters.metrics import WEBHOOK_AUTH_FAILURES, WEBHOOK_EVENTS
from fourfold.ingest.adapters.schemas import WebhookReceipt
from fourfold.ingest.adapters.stripe_signature import (
    SignatureRejected,
    check_signature,
    check_timestamp,
    parse_header,
)
from fourfold.ingest.adapters.translation import Outcome, PayloadError, Translation
from fourfold.ingest.api import Runtime
from fourfold.ingest.errors import AdapterOff, SignatureInvalid
from fourfold.ingest.publishing import database_outage_as_503
from fourfold.service.edge import authenticates_own_body
from fourfold.service.openapi import error_responses

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
log = logging.getLogger(__name__)
ADAPTER = "stripe"

DESCRIPTION = """
Point a Stripe webhook endpoint here (API version 2024-06-20; the 2025-03-31 shapes are read
too) with the events `customer.subscription.created`, `customer.subscription.updated`,
`customer.subscription.deleted`, `invoice.paid`, `invoice.payment_failed`, and
`customer.created` / `customer.updated` (they carry the partner of record).

The `Stripe-Signature` header is verified as Stripe documents it: HMAC-SHA256 of
`<t>.<body>` with the endpoint's signing secret (`FOURFOLD_INGEST_STRIPE_WEBHOOK_SECRET`),
any `v1` signature may match (secret rotation), the timestamp within
`FOURFOLD_INGEST_STRIPE_TOLERANCE_S` (300 s) of now, compared in constant time. The header
and its timestamp are checked before the body is parsed.

**200** whatever Fourfold makes of a verified event (the body says which: `mapped`,
`unmapped` — no partner of record, listed at `GET /v1/admin/webhooks/unmapped` —, `ignored`
— a type or change Fourfold does not use —, `rejected`, or `duplicate` — a redelivery,
nothing published again). **400** `signature_invalid` (nothing published), **400**
`malformed_json`, **404** `adapter_not_configured` while no secret is set, **413** body too
large, **503** broker or database down (Stripe retries; nothing was acknowledged).
The mapping table is in docs/adapters.md.
"""

SIGNATURE_EXAMPLE = "t=1733050000,v1=" + "5257a869e7ecebeda32affa62cdca3fa" * 2
EXAMPLE = {
    "received": True,
    "adapter": "stripe",
    "event_id": "evt_1PqR2sLkdIwHu7ix0aBcDeFg",
    "type": "customer.subscription.created",
    "outcome": "mapped",
    "reason": "",
    "published": ["evt_1PqR2sLkdIwHu7ix0aBcDeFg"],
    "duplicates": [],
}


@router.post(
    "/stripe",
    response_model=WebhookReceipt,
    summary="Receive a Stripe webhook event",
    description=DESCRIPTION,
    openapi_extra={
        "parameters": [
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "example": SIGNATURE_EXAMPLE,
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE}}},
        **error_responses(
            400,
            404,
            413,
            503,
            descriptions={
                400: "Signature missing, stale or not matching; or malformed JSON",
                404: "The Stripe adapter is not configured",
                503: "Broker or database unavailable; Stripe retries",
            },
        ),
    },
)
@authenticates_own_body
async def stripe_webhook(request: Request, rt: Runtime) -> Response:
    settings = rt.settings
    secrets = [
        secret.get_secret_value()
        for secret in (
            settings.ingest_stripe_webhook_secret,
            settings.ingest_stripe_webhook_previous_secret,
        )
        if secret is not None
    ]
    if settings.ingest_stripe_webhook_secret is None:
        raise AdapterOff("the Stripe adapter is off: set FOURFOLD_INGEST_STRIPE_WEBHOOK_SECRET")
    try:
        header = parse_header(request.headers.get("stripe-signature"))
        check_timestamp(
            header, now=rt.clock.now().timestamp(), tolerance_s=settings.ingest_stripe_tolerance_s
        )
        body = await request.body()
        check_signature(header, body, secrets=secrets)
    except SignatureRejected as exc:
        WEBHOOK_AUTH_FAILURES.labels(ADAPTER, exc.reason).inc()
        log.warning("stripe signature refused", extra={"reason": exc.reason, "detail": exc.detail})
        raise SignatureInvalid(exc.detail) from exc
    WEBHOOK_EVENTS.labels(ADAPTER, "received").inc()
    event = webhooks.decode(body, system="Stripe", id_field="id", type_field="type")
    rules = stripe.StripeMapping(
        source=settings.ingest_stripe_source,
        partner_key=settings.ingest_stripe_partner_metadata_key,
        renewal_min_months=settings.ingest_renewal_min_period_months,
    )
    known: str | None = None
    customer = stripe.customer_of(event, rules.partner_key)
    if customer is not None:
        with database_outage_as_503(rt):
            async with rt.sessions() as session:
                known = await repository.partner_of(session, adapter=ADAPTER, customer_id=customer)
    try:
        translation = stripe.translate(event, rules, known_partner=known)
    except PayloadError as exc:
        translation = Translation(Outcome.REJECTED, reason=f"unreadable payload: {exc}")
    receipt = await webhooks.deliver(
        rt,
        adapter=ADAPTER,
        event_id=event["id"],
        event_type=event["type"],
        translation=translation,
        payload=event,
    )
    # Encoded here: FastAPI would validate the model it was just built as, a second time.
    return Response(receipt.model_dump_json(), media_type="application/json")
