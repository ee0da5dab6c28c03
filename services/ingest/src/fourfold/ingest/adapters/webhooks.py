"""The webhook use case: a verified delivery's translation → published events or a listing.

Mapped events take the one road (`intake.validate`, then `publishing.publish`), so their
ids (derived from the billing system's event id) dedupe like any event: a redelivery
publishes nothing new and is answered 200 `duplicate`. A delivery that cannot become an
event (no partner of record, or events that fail validation) is acknowledged and listed in
`webhook_unmapped` for an operator (GET /v1/admin/webhooks/unmapped): answering an error
would only make the billing system retry it for days. Broker or database down: 503, and
nothing is acknowledged, so the billing system retries.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from fourfold.events.problems import problems_summary
from fourfold.ingest import intake
from fourfold.ingest.adapters import repository
from fourfold.ingest.adapters.metrics import WEBHOOK_EVENTS
from fourfold.ingest.adapters.schemas import WebhookReceipt
from fourfold.ingest.adapters.translation import Outcome, Translation
from fourfold.ingest.errors import MalformedJson
from fourfold.ingest.publishing import database_outage_as_503, publish
from fourfold.ingest.runtime import IngestRuntime

log = logging.getLogger(__name__)


async def deliver(
    rt: IngestRuntime,
    *,
    adapter: str,
    event_id: str,
    event_type: str,
    translation: Translation,
    payload: Any,
) -> WebhookReceipt:
    """Publish what `translation` maps to, list what it cannot, and say which it was."""
    now = rt.clock.now()
    outcome: str = translation.outcome
    reason = translation.reason
    published: list[str] = []
    duplicates: list[str] = []
    if translation.learned_partner is not None:
        customer_id, partner_id = translation.learned_partner
        with database_outage_as_503(rt):
            async with rt.sessions() as session, session.begin():
                await repository.remember_partner(
                    session, adapter=adapter, customer_id=customer_id, partner_id=partner_id, at=now
                )
    if translation.events:
        valid, rejected = intake.validate(translation.events)
        if valid:
            result = await publish(rt, valid, [])
            for item in result["results"]:
                (published if item["status"] == "accepted" else duplicates).append(item["id"])
        if rejected:
            outcome = Outcome.REJECTED
            reason = "mapped events failed validation: " + "; ".join(
                f"{r.id}: {problems_summary(r.errors)}" for r in rejected
            )
        elif duplicates and not published:
            outcome = "duplicate"
    if translation.kept_state is not None:
        kept = translation.kept_state
        with database_outage_as_503(rt):
            async with rt.sessions() as session, session.begin():
                await repository.keep_state(
                    session,
                    adapter=adapter,
                    subscription_id=kept.subscription_id,
                    state=kept.state,
                    as_of=kept.as_of,
                )
    if outcome in (Outcome.UNMAPPED, Outcome.REJECTED):
        with database_outage_as_503(rt):
            async with rt.sessions() as session, session.begin():
                listed = await repository.record_unmapped(
                    session,
                    adapter=adapter,
                    event_id=event_id,
                    type=event_type,
                    outcome=str(outcome),
                    reason=reason,
                    payload=payload,
                    received_at=now,
                )
        if not listed and not published:
            outcome = "duplicate"
    WEBHOOK_EVENTS.labels(adapter, str(outcome)).inc()
    log.log(
        logging.WARNING if outcome in (Outcome.UNMAPPED, Outcome.REJECTED) else logging.INFO,
        "webhook delivery",
        extra={
            "adapter": adapter,
            "event_id": event_id,
            "event_type": event_type,
            "outcome": str(outcome),
            "reason": reason,
            "published": len(published),
        },
    )
    return WebhookReceipt(
        adapter=adapter,
        event_id=event_id,
        type=event_type,
        outcome=outcome,
        reason=reason,
        published=published,
        duplicates=duplicates,
    )


def decode(body: bytes, *, system: str, id_field: str, type_field: str) -> dict[str, Any]:
    """The delivery as a JSON object with a usable id and type, or a 400 naming the field."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"body is not valid JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise MalformedJson(f"a {system} event is a JSON object")
    for name in (id_field, type_field):
        value = event.get(name)
        if not isinstance(value, str) or not value or len(value) > 256 or "\x00" in value:
            raise MalformedJson(f"a {system} event has a string `{name}` (1-256 characters)")
    return event
