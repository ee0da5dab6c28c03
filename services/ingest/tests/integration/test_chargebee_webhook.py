"""POST /v1/webhooks/chargebee on the real broker and PostgreSQL, with real-shaped v2
deliveries behind HTTP basic auth; every mapping read back from the topic."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from fourfold.events import BILLING_TOPIC, parse_input_event
from fourfold.ingest.settings import IngestSettings
from fourfold.kafka.topics import ensure_topics
from fourfold.testing.billing_samples import (
    ChargebeeItem,
    chargebee_customer,
    chargebee_event,
    chargebee_invoice,
    chargebee_subscription,
    chargebee_transaction,
)
from fourfold.testing.kafka import read_topic

from ..conftest import make_settings, running_client  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration
USER, PASSWORD = "chargebee", "cb-webhook-password-0123456789"
PLAN = ChargebeeItem("pro-USD-yearly", 117600, 2)
T0 = 1764547300


def basic(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


@pytest.fixture
async def cb_client(
    kafka_bootstrap: str, database_url: str, fresh_schema: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings: IngestSettings = make_settings(
        kafka_bootstrap,
        database_url,
        fresh_schema,
        ingest_chargebee_username=USER,
        ingest_chargebee_password=SecretStr(PASSWORD),
    )
    async with running_client(settings) as http:
        yield http


async def send(client: httpx.AsyncClient, event: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post(
        "/v1/webhooks/chargebee", content=orjson.dumps(event), headers={**basic(), **headers}
    )


def sub(customer: str, *items: ChargebeeItem, **extra: Any) -> dict[str, Any]:
    extra.setdefault("partner", "p-7")
    return chargebee_subscription(
        f"sub_{customer}", customer, list(items or (PLAN,)), period_unit="year", **extra
    )


def lifecycle(kind: str, subscription: dict[str, Any], eid: str, at: int) -> dict[str, Any]:
    content = {
        "subscription": subscription,
        "customer": chargebee_customer(subscription["customer_id"]),
    }
    return chargebee_event(eid, kind, content, occurred_at=at)


async def on_topic(bootstrap: str, customer: str, expect: int, timeout_s: float = 10) -> list[Any]:
    await ensure_topics(bootstrap, [BILLING_TOPIC], partitions=3)  # when nothing was published
    records = await read_topic(
        bootstrap, BILLING_TOPIC, expect=expect, keys={customer.encode()}, timeout_s=timeout_s
    )
    return [json.loads(r.value) for r in records if r.value is not None]


async def test_each_mapping_lands_on_the_topic_and_a_replay_publishes_nothing(
    cb_client: httpx.AsyncClient, kafka_bootstrap: str, unique: str
) -> None:
    customer = f"cust_{unique}"
    more = ChargebeeItem("pro-USD-yearly", 117600, 5)
    sso = ChargebeeItem("sso-USD-yearly", 18000, 1, "addon")
    year = 365 * 86400
    invoice = {"customer_id": customer, "subscription_id": f"sub_{customer}", "amount": 294000}
    deliveries = [
        lifecycle("subscription_created", sub(customer), f"ev_{unique}_1", T0),
        lifecycle("subscription_changed", sub(customer, more), f"ev_{unique}_2", T0 + 60),
        lifecycle("subscription_changed", sub(customer, more, sso), f"ev_{unique}_3", T0 + 120),
        chargebee_event(
            f"ev_{unique}_4",
            "payment_succeeded",
            {
                "invoice": chargebee_invoice(f"inv_{unique}", paid_at=T0 + 180, **invoice),
                "transaction": chargebee_transaction("t1", amount=294000, success=True),
            },
            occurred_at=T0 + 180,
        ),
        lifecycle(
            "subscription_renewed",
            sub(customer, more, sso, term_start=T0 + year, term_end=T0 + 2 * year),
            f"ev_{unique}_5",
            T0 + year,
        ),
        chargebee_event(
            f"ev_{unique}_6",
            "payment_failed",
            {
                "invoice": chargebee_invoice(f"inv_{unique}b", dunning_attempts=1, **invoice),
                "transaction": chargebee_transaction("t2", amount=294000, success=False),
            },
            occurred_at=T0 + year + 60,
        ),
        lifecycle(
            "subscription_cancelled",
            sub(
                customer,
                more,
                sso,
                status="cancelled",
                cancelled_at=T0 + year + 86400,
                cancel_reason="not_paid",
            ),
            f"ev_{unique}_7",
            T0 + year + 86400,
        ),
    ]
    for delivery in deliveries:
        response = await send(cb_client, delivery)
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "mapped", response.json()
    replays = [await send(cb_client, deliveries[n]) for n in (0, 1, 6)]

    published = await on_topic(kafka_bootstrap, customer, expect=len(deliveries) + 3)

    assert [e["type"] for e in published] == [
        "subscription.created",
        "subscription.expanded",
        "subscription.addon_added",
        "invoice.paid",
        "subscription.renewed",
        "invoice.payment_failed",
        "subscription.cancelled",
    ]
    assert [parse_input_event(e).id for e in published] == [d["id"] for d in deliveries]
    assert published[1]["data"]["previous_seats"] == 2
    assert published[1]["data"]["seats"] == 5
    assert published[2]["data"]["addon_mrr"] == {"amount": "15.00", "currency": "USD"}
    assert published[3]["data"]["amount"] == {"amount": "2940.00", "currency": "USD"}
    assert [r.status_code for r in replays] == [200, 200, 200]
    assert [r.json()["outcome"] for r in replays] == ["duplicate", "ignored", "duplicate"]
    assert "redelivery" in replays[1].json()["reason"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic(password="wrong-password-0000000000"),
        basic(user="other"),
        {"Authorization": "Basic !!"},
        {"Authorization": "Bearer x"},
    ],
)
async def test_a_wrong_or_missing_credential_is_401_and_publishes_nothing(
    cb_client: httpx.AsyncClient, kafka_bootstrap: str, unique: str, headers: dict[str, str]
) -> None:
    customer = f"cust_{unique}"
    event = lifecycle("subscription_created", sub(customer), f"ev_{unique}", T0)

    response = await cb_client.post(
        "/v1/webhooks/chargebee",
        content=orjson.dumps(event),
        headers={"Content-Type": "application/json", **headers},
    )

    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert await on_topic(kafka_bootstrap, customer, expect=1, timeout_s=3) == []


async def test_without_partner_it_is_acknowledged_and_listed(
    cb_client: httpx.AsyncClient, unique: str, auth_header: Any
) -> None:
    event = lifecycle(
        "subscription_created", sub(f"cust_{unique}", partner=None), f"ev_{unique}", T0
    )

    response = await send(cb_client, event)

    assert response.json()["outcome"] == "unmapped"
    listed = await cb_client.get(
        "/v1/admin/webhooks/unmapped", params={"adapter": "chargebee"}, headers=auth_header("admin")
    )
    assert [i["event_id"] for i in listed.json()["items"]] == [event["id"]]


async def test_without_a_credential_set_the_adapter_is_off(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/webhooks/chargebee", content=b"{}", headers=basic())
    assert response.status_code == 404
    assert response.json()["error"] == "adapter_not_configured"
