"""POST /v1/webhooks/stripe on the real broker and PostgreSQL, with signed, real-shaped
Stripe deliveries; every mapping is read back from the topic as the Fourfold event."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from fourfold.events import BILLING_TOPIC, parse_input_event
from fourfold.infra.broker import EmbeddedBroker
from fourfold.ingest.settings import IngestSettings
from fourfold.kafka.topics import ensure_topics
from fourfold.testing.billing_samples import (
    StripeLine,
    stripe_customer,
    stripe_event,
    stripe_invoice,
    stripe_subscription,
)
from fourfold.testing.kafka import read_topic

from ..conftest import make_settings, running_client  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration
SECRET = "whsec_test_5f0e1c2b3a4d5e6f7a8b9c0d1e2f3a4b"
OLD_SECRET = "whsec_test_old_0a1b2c3d4e5f6a7b8c9d0e1f2a3b"
PRO = StripeLine("si_PRO1", "price_pro_m", "prod_pro", 4900, 2)


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's scheme, computed here independently of the code under test."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return mac.hexdigest()


def signed(payload: bytes, *secrets: str, at: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    v1 = ",".join(f"v1={signature(payload, s, timestamp)}" for s in secrets or (SECRET,))
    return {"Stripe-Signature": f"t={timestamp},{v1}", "Content-Type": "application/json"}


@pytest.fixture
def stripe_settings(kafka_bootstrap: str, database_url: str, fresh_schema: str) -> IngestSettings:
    return make_settings(
        kafka_bootstrap,
        database_url,
        fresh_schema,
        ingest_stripe_webhook_secret=SecretStr(SECRET),
        ingest_stripe_webhook_previous_secret=SecretStr(OLD_SECRET),
        ingest_stripe_partner_metadata_key="partner",
    )


@pytest.fixture
async def stripe_client(stripe_settings: IngestSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_client(stripe_settings) as http:
        yield http


async def send(client: httpx.AsyncClient, event: dict[str, Any], **headers: str) -> httpx.Response:
    payload = orjson.dumps(event)
    return await client.post(
        "/v1/webhooks/stripe", content=payload, headers={**signed(payload), **headers}
    )


async def on_topic(bootstrap: str, customer: str, expect: int, timeout_s: float = 10) -> list[Any]:
    await ensure_topics(bootstrap, [BILLING_TOPIC], partitions=3)  # when nothing was published
    records = await read_topic(
        bootstrap, BILLING_TOPIC, expect=expect, keys={customer.encode()}, timeout_s=timeout_s
    )
    return [json.loads(r.value) for r in records if r.value is not None]


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def subscription(customer: str, *lines: StripeLine, **extra: Any) -> dict[str, Any]:
    return stripe_subscription(
        f"sub_{customer}", customer, list(lines or (PRO,)), metadata={"partner": "p-7"}, **extra
    )


async def test_each_mapping_lands_on_the_topic_as_its_fourfold_event(
    stripe_client: httpx.AsyncClient, kafka_bootstrap: str, unique: str
) -> None:
    customer = f"cus_{unique}"
    sso = StripeLine("si_SSO", "price_sso", "prod_sso", 1500, 2)
    more = StripeLine("si_PRO1", "price_pro_m", "prod_pro", 4900, 5)
    deliveries = [
        stripe_event(f"evt_{unique}_1", "customer.subscription.created", subscription(customer)),
        stripe_event(
            f"evt_{unique}_2",
            "customer.subscription.updated",
            subscription(customer, more),
            previous_attributes={"items": subscription(customer)["items"]},
            created=1764547400,
        ),
        stripe_event(
            f"evt_{unique}_3",
            "customer.subscription.updated",
            subscription(customer, more, sso),
            previous_attributes={"items": subscription(customer, more)["items"]},
            created=1764547500,
        ),
        stripe_event(
            f"evt_{unique}_4",
            "invoice.paid",
            stripe_invoice(
                f"in_{unique}",
                customer=customer,
                subscription=f"sub_{customer}",
                amount=27500,
                paid_at=1764547600,
            ),
            created=1764547600,
        ),
        stripe_event(
            f"evt_{unique}_5",
            "invoice.payment_failed",
            stripe_invoice(
                f"in_{unique}b",
                customer=customer,
                subscription=f"sub_{customer}",
                amount=27500,
                attempt_count=1,
                next_payment_attempt=1764720000,
            ),
            created=1764547700,
        ),
        stripe_event(
            f"evt_{unique}_6",
            "customer.subscription.deleted",
            subscription(
                customer, more, status="canceled", canceled_at=1764600000, ended_at=1764633600
            ),
            created=1764633600,
        ),
    ]
    for delivery in deliveries:
        response = await send(stripe_client, delivery)
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "mapped"
        assert response.json()["published"] == [delivery["id"]]

    published = await on_topic(kafka_bootstrap, customer, expect=len(deliveries))

    assert [e["type"] for e in published] == [
        "subscription.created",
        "subscription.expanded",
        "subscription.addon_added",
        "invoice.paid",
        "invoice.payment_failed",
        "subscription.cancelled",
    ]
    events = [parse_input_event(e) for e in published]
    assert [e.id for e in events] == [d["id"] for d in deliveries]
    assert {e.source for e in events} == {"https://api.stripe.com"}
    created, expanded, addon, paid, failed, cancelled = (e.data for e in events)
    assert (created.seats, str(created.mrr.amount)) == (2, "98.00")  # type: ignore[attr-defined]
    assert (expanded.previous_seats, expanded.seats) == (2, 5)  # type: ignore[attr-defined]
    assert str(expanded.mrr.amount) == "245.00"  # type: ignore[attr-defined]
    assert addon.addon == "price_sso"  # type: ignore[attr-defined]
    assert str(addon.mrr.amount) == "275.00"  # type: ignore[attr-defined]
    assert str(paid.amount.amount) == "275.00"  # type: ignore[attr-defined]
    assert failed.attempt == 1  # type: ignore[attr-defined]
    assert str(cancelled.effective_date) == "2025-12-02"  # type: ignore[attr-defined]


async def test_a_redelivery_answers_200_and_publishes_nothing_new(
    stripe_client: httpx.AsyncClient, kafka_bootstrap: str, unique: str
) -> None:
    customer = f"cus_{unique}"
    delivery = stripe_event(
        f"evt_{unique}", "customer.subscription.created", subscription(customer)
    )
    before = counter("fourfold_ingest_webhook_events_total", adapter="stripe", outcome="duplicate")

    first = await send(stripe_client, delivery)
    again = await send(stripe_client, delivery)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["outcome"] == "duplicate"
    assert again.json()["published"] == []
    assert again.json()["duplicates"] == [delivery["id"]]
    assert len(await on_topic(kafka_bootstrap, customer, expect=2, timeout_s=4)) == 1
    after = counter("fourfold_ingest_webhook_events_total", adapter="stripe", outcome="duplicate")
    assert after == before + 1


@pytest.mark.parametrize(
    ("headers", "reason", "names"),
    [
        ({}, "missing", "no Stripe-Signature header"),
        ({"Stripe-Signature": "v1=abc"}, "malformed", "no t= timestamp"),
        ({"Stripe-Signature": f"t={int(time.time())}"}, "malformed", "no v1 signature"),
        ("wrong-secret", "mismatch", "no v1 signature in Stripe-Signature matches"),
        ("tampered", "mismatch", "no v1 signature in Stripe-Signature matches"),
        ("stale", "stale", "outside the 300 s tolerance"),
        ("future", "stale", "outside the 300 s tolerance"),
    ],
)
async def test_bad_signatures_are_400_and_publish_nothing(
    stripe_client: httpx.AsyncClient,
    kafka_bootstrap: str,
    unique: str,
    headers: dict[str, str] | str,
    reason: str,
    names: str,
) -> None:
    customer = f"cus_{unique}"
    payload = orjson.dumps(
        stripe_event(f"evt_{unique}", "customer.subscription.created", subscription(customer))
    )
    now = int(time.time())
    if headers == "wrong-secret":
        headers = signed(payload, "whsec_someone_else_entirely_000000")
    elif headers == "tampered":
        headers = signed(payload)
        payload = payload.replace(b'"quantity":2', b'"quantity":200')
    elif headers == "stale":
        headers = signed(payload, at=now - 301)
    elif headers == "future":  # margin: the server's clock reads later than `now`
        headers = signed(payload, at=now + 330)
    assert isinstance(headers, dict)
    before = counter("fourfold_ingest_webhook_auth_failures_total", adapter="stripe", reason=reason)

    response = await stripe_client.post("/v1/webhooks/stripe", content=payload, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"] == "signature_invalid"
    assert names in response.json()["detail"]
    after = counter("fourfold_ingest_webhook_auth_failures_total", adapter="stripe", reason=reason)
    assert after == before + 1
    assert await on_topic(kafka_bootstrap, customer, expect=1, timeout_s=3) == []


async def test_rotation_any_v1_may_match_and_the_previous_secret_still_verifies(
    stripe_client: httpx.AsyncClient, kafka_bootstrap: str, unique: str
) -> None:
    customer = f"cus_{unique}"
    for n, secrets in enumerate([("whsec_rolled_out_elsewhere_00000", SECRET), (OLD_SECRET,)]):
        delivery = stripe_event(
            f"evt_{unique}_{n}", "customer.subscription.created", subscription(customer)
        )
        payload = orjson.dumps(delivery)
        response = await stripe_client.post(
            "/v1/webhooks/stripe", content=payload, headers=signed(payload, *secrets)
        )
        assert response.status_code == 200, response.text
    assert len(await on_topic(kafka_bootstrap, customer, expect=2)) == 2


async def test_an_event_without_partner_is_acknowledged_counted_and_listed_for_admins(
    stripe_client: httpx.AsyncClient, kafka_bootstrap: str, unique: str, auth_header: Any
) -> None:
    customer = f"cus_{unique}"
    bare = stripe_subscription(f"sub_{unique}", customer, [PRO])
    delivery = stripe_event(f"evt_{unique}", "customer.subscription.created", bare)
    before = counter("fourfold_ingest_webhook_events_total", adapter="stripe", outcome="unmapped")

    first = await send(stripe_client, delivery)
    again = await send(stripe_client, delivery)

    assert first.status_code == 200
    assert first.json()["outcome"] == "unmapped"
    assert "metadata.partner" in first.json()["reason"]
    assert again.json()["outcome"] == "duplicate"
    assert (
        counter("fourfold_ingest_webhook_events_total", adapter="stripe", outcome="unmapped")
        == before + 1
    )
    listed = await stripe_client.get(
        "/v1/admin/webhooks/unmapped", params={"adapter": "stripe"}, headers=auth_header("admin")
    )
    assert listed.status_code == 200, listed.text
    [item] = [i for i in listed.json()["items"] if i["event_id"] == delivery["id"]]
    assert (item["type"], item["outcome"]) == ("customer.subscription.created", "unmapped")
    forbidden = await stripe_client.get("/v1/admin/webhooks/unmapped", headers=auth_header())
    assert forbidden.status_code == 403
    assert await on_topic(kafka_bootstrap, customer, expect=1, timeout_s=3) == []


async def test_the_customer_teaches_the_partner_for_later_subscriptions(
    stripe_client: httpx.AsyncClient, kafka_bootstrap: str, unique: str
) -> None:
    customer = f"cus_{unique}"
    taught = await send(
        stripe_client,
        stripe_event(
            f"evt_{unique}_k",
            "customer.created",
            stripe_customer(customer, metadata={"partner": "p-from-customer"}),
        ),
    )
    bare = stripe_subscription(f"sub_{unique}", customer, [PRO])
    mapped = await send(
        stripe_client, stripe_event(f"evt_{unique}_s", "customer.subscription.created", bare)
    )

    assert taught.json()["outcome"] == "mapped"
    assert mapped.json()["outcome"] == "mapped"
    [event] = await on_topic(kafka_bootstrap, customer, expect=1)
    assert event["data"]["partner_id"] == "p-from-customer"


async def test_unused_types_are_200_and_counted(
    stripe_client: httpx.AsyncClient, unique: str
) -> None:
    before = counter("fourfold_ingest_webhook_events_total", adapter="stripe", outcome="ignored")
    response = await send(
        stripe_client,
        stripe_event(f"evt_{unique}", "charge.succeeded", {"id": "ch_1", "object": "charge"}),
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    after = counter("fourfold_ingest_webhook_events_total", adapter="stripe", outcome="ignored")
    assert after == before + 1


async def test_an_updated_before_its_created_publishes_both_with_their_own_times(
    stripe_client: httpx.AsyncClient, kafka_bootstrap: str, unique: str
) -> None:
    customer = f"cus_{unique}"
    more = StripeLine("si_PRO1", "price_pro_m", "prod_pro", 4900, 5)
    created = stripe_event(
        f"evt_{unique}_c", "customer.subscription.created", subscription(customer)
    )
    update = stripe_event(
        f"evt_{unique}_u",
        "customer.subscription.updated",
        subscription(customer, more),
        previous_attributes={"items": subscription(customer)["items"]},
        created=created["created"] + 60,
    )

    assert (await send(stripe_client, update)).json()["outcome"] == "mapped"
    assert (await send(stripe_client, created)).json()["outcome"] == "mapped"

    published = await on_topic(kafka_bootstrap, customer, expect=2)
    assert [e["type"] for e in published] == ["subscription.expanded", "subscription.created"]
    by_type = {e["type"]: e for e in published}
    assert by_type["subscription.created"]["time"] < by_type["subscription.expanded"]["time"], (
        "event time, not arrival, orders them for consumers"
    )


async def test_malformed_json_with_a_good_signature_is_400(
    stripe_client: httpx.AsyncClient,
) -> None:
    payload = b"{not json"
    response = await stripe_client.post(
        "/v1/webhooks/stripe", content=payload, headers=signed(payload)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"


async def test_without_a_secret_the_adapter_is_off(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/webhooks/stripe", content=b"{}", headers=signed(b"{}"))
    assert response.status_code == 404
    assert response.json()["error"] == "adapter_not_configured"


async def test_broker_down_is_503_and_the_retry_goes_through(
    private_broker: EmbeddedBroker,
    database_url: str,
    fresh_schema: str,
    unique: str,
    tmp_path: Path,
) -> None:
    settings = make_settings(
        private_broker.bootstrap_servers,
        database_url,
        fresh_schema,
        ingest_stripe_webhook_secret=SecretStr(SECRET),
        ingest_stripe_partner_metadata_key="partner",
    )
    customer = f"cus_{unique}"
    delivery = stripe_event(
        f"evt_{unique}", "customer.subscription.created", subscription(customer)
    )
    async with running_client(settings) as client:
        warm = await send(client, stripe_event(f"evt_{unique}_w", "charge.succeeded", {"id": "ch"}))
        assert warm.status_code == 200
        assert (
            await send(
                client,
                stripe_event(
                    f"evt_{unique}_0",
                    "customer.subscription.created",
                    subscription(f"{customer}_0"),
                ),
            )
        ).status_code == 200

        private_broker.stop()
        down = await send(client, delivery)
        assert down.status_code == 503
        assert down.headers["Retry-After"].isdigit()

        restarted = EmbeddedBroker(tmp_path / "again", port=private_broker.port).start()
        try:
            again = await send(client, delivery)
            assert again.status_code == 200, again.text
            assert again.json()["published"] == [delivery["id"]], "nothing was acknowledged"
            assert len(await on_topic(restarted.bootstrap_servers, customer, expect=1)) == 1
        finally:
            restarted.stop()


async def test_a_payload_the_contracts_refuse_is_200_rejected_and_listed_even_with_nul(
    stripe_client: httpx.AsyncClient, kafka_bootstrap: str, unique: str, auth_header: Any
) -> None:
    customer = f"cus_{unique}"
    odd = subscription(customer, StripeLine("si_1", "price_\x00nul", "prod_pro", 4900, 0))
    delivery = stripe_event(f"evt_{unique}", "customer.subscription.created", odd)

    response = await send(stripe_client, delivery)

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "rejected"
    assert "data.plan" in response.json()["reason"]
    assert "data.seats" in response.json()["reason"]
    listed = await stripe_client.get(
        "/v1/admin/webhooks/unmapped", params={"adapter": "stripe"}, headers=auth_header("admin")
    )
    assert [i["outcome"] for i in listed.json()["items"] if i["event_id"] == delivery["id"]] == [
        "rejected"
    ]
    partner = await stripe_client.get(
        "/v1/admin/webhooks/unmapped", headers=auth_header("partner", partner_id="p-7")
    )
    assert partner.status_code == 403
    assert await on_topic(kafka_bootstrap, customer, expect=1, timeout_s=3) == []


async def test_a_yearly_renewal_and_a_contraction_land_as_their_events(
    stripe_client: httpx.AsyncClient, kafka_bootstrap: str, unique: str
) -> None:
    customer = f"cus_{unique}"
    year = 365 * 86400
    seats5 = StripeLine("si_Y", "price_pro_y", "prod_pro", 117600, 5, "year")
    seats3 = StripeLine("si_Y", "price_pro_y", "prod_pro", 117600, 3, "year")
    start = 1764547200
    renewed = subscription(customer, seats5, period_start=start + year, period_end=start + 2 * year)
    deliveries = [
        stripe_event(
            f"evt_{unique}_r",
            "customer.subscription.updated",
            renewed,
            previous_attributes={"current_period_start": start, "current_period_end": start + year},
            created=start + year,
        ),
        stripe_event(
            f"evt_{unique}_c",
            "customer.subscription.updated",
            subscription(customer, seats3, period_start=start + year, period_end=start + 2 * year),
            previous_attributes={"items": renewed["items"]},
            created=start + year + 60,
        ),
    ]
    for delivery in deliveries:
        assert (await send(stripe_client, delivery)).json()["outcome"] == "mapped"

    renewal, contraction = await on_topic(kafka_bootstrap, customer, expect=2)

    assert renewal["type"] == "subscription.renewed"
    assert (renewal["data"]["term_start"], renewal["data"]["term_end"]) == (
        "2026-12-01",
        "2027-12-01",
    )
    assert renewal["data"]["mrr"] == {"amount": "490.00", "currency": "USD"}
    assert contraction["type"] == "subscription.contracted"
    assert (contraction["data"]["previous_seats"], contraction["data"]["seats"]) == (5, 3)
    assert contraction["data"]["mrr"] == {"amount": "294.00", "currency": "USD"}
