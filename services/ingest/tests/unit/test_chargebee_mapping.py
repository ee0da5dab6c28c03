"""Chargebee events → Fourfold events on real-shaped v2 payloads, with the kept state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fourfold.events.registry import parse_input_event
from fourfold.ingest.adapters.chargebee import ChargebeeMapping, translate
from fourfold.ingest.adapters.translation import Outcome, Translation
from fourfold.testing.billing_samples import (
    ChargebeeItem,
    chargebee_customer,
    chargebee_event,
    chargebee_invoice,
    chargebee_subscription,
    chargebee_transaction,
)

RULES = ChargebeeMapping(
    source="https://chargebee.com", partner_field="cf_partner_id", renewal_min_months=12
)
PLAN = ChargebeeItem("pro-USD-monthly", 4900, 2)
T0 = 1764547300


def sub(*items: ChargebeeItem, **extra: Any) -> dict[str, Any]:
    extra.setdefault("partner", "p-7")
    return chargebee_subscription("sub_1", "cust_1", list(items or (PLAN,)), **extra)


def delivery(
    kind: str, subscription: dict[str, Any], *, at: int = T0, eid: str = "ev_1"
) -> dict[str, Any]:
    content = {"subscription": subscription, "customer": chargebee_customer("cust_1")}
    return chargebee_event(eid, kind, content, occurred_at=at)


def run(event: dict[str, Any], last: Translation | None = None) -> Translation:
    kept = None
    if last is not None and last.kept_state is not None:
        kept = (last.kept_state.state, last.kept_state.as_of)
    return translate(event, RULES, last=kept)


def only(translation: Translation) -> dict[str, Any]:
    assert translation.outcome == Outcome.MAPPED, translation.reason
    [event] = translation.events
    parse_input_event(event)
    return event


def test_created_maps_plan_seats_mrr_and_term() -> None:
    yearly = ChargebeeItem("pro-JPY-yearly", 120000, 3)
    event = only(
        run(delivery("subscription_created", sub(yearly, currency="JPY", period_unit="year")))
    )

    assert event["type"] == "subscription.created"
    assert (event["id"], event["source"]) == ("ev_1", "https://chargebee.com")
    assert event["data"]["plan"] == "pro-JPY-yearly"
    assert event["data"]["seats"] == 3
    assert event["data"]["mrr"] == {"amount": "30000", "currency": "JPY"}
    assert event["data"]["start_date"] == "2025-12-01"


@pytest.mark.parametrize(
    ("before", "after", "kind", "mrrs"),
    [
        (
            [PLAN],
            [ChargebeeItem("pro-USD-monthly", 4900, 6)],
            "subscription.expanded",
            ("98.00", "294.00"),
        ),
        (
            [ChargebeeItem("pro-USD-monthly", 4900, 6)],
            [PLAN],
            "subscription.contracted",
            ("294.00", "98.00"),
        ),
        (
            [PLAN],
            [ChargebeeItem("ent-USD-monthly", 9900, 2)],
            "subscription.expanded",
            ("98.00", "198.00"),
        ),
        (
            [PLAN],
            [ChargebeeItem("lite-USD-monthly", 1900, 2)],
            "subscription.contracted",
            ("98.00", "38.00"),
        ),
    ],
)
def test_changed_is_compared_with_the_kept_state(
    before: list[ChargebeeItem], after: list[ChargebeeItem], kind: str, mrrs: tuple[str, str]
) -> None:
    created = run(delivery("subscription_created", sub(*before)))
    changed = only(
        run(delivery("subscription_changed", sub(*after), at=T0 + 60, eid="ev_2"), created)
    )

    assert changed["type"] == kind
    data = changed["data"]
    assert (data["previous_mrr"]["amount"], data["mrr"]["amount"]) == mrrs
    assert (data["previous_plan"], data["plan"]) == (
        before[0].item_price_id,
        after[0].item_price_id,
    )
    assert (data["previous_seats"], data["seats"]) == (before[0].quantity, after[0].quantity)


def test_a_new_addon_is_a_cross_sell() -> None:
    created = run(delivery("subscription_created", sub(PLAN)))
    sso = ChargebeeItem("sso-USD-monthly", 1500, 1, "addon")
    changed = only(
        run(delivery("subscription_changed", sub(PLAN, sso), at=T0 + 60, eid="ev_2"), created)
    )

    assert changed["type"] == "subscription.addon_added"
    assert changed["data"]["addon"] == "sso-USD-monthly"
    assert changed["data"]["addon_mrr"] == {"amount": "15.00", "currency": "USD"}
    assert changed["data"]["mrr"] == {"amount": "113.00", "currency": "USD"}


def test_changed_twice_compares_each_with_the_one_before_and_a_replay_maps_the_same() -> None:
    created = run(delivery("subscription_created", sub(PLAN)))
    up = run(
        delivery(
            "subscription_changed",
            sub(ChargebeeItem("pro-USD-monthly", 4900, 4)),
            at=T0 + 60,
            eid="ev_2",
        ),
        created,
    )
    down = run(
        delivery(
            "subscription_changed",
            sub(ChargebeeItem("pro-USD-monthly", 4900, 3)),
            at=T0 + 120,
            eid="ev_3",
        ),
        up,
    )
    replay = run(
        delivery(
            "subscription_changed",
            sub(ChargebeeItem("pro-USD-monthly", 4900, 3)),
            at=T0 + 120,
            eid="ev_3",
        ),
        down,
    )

    assert only(up)["data"]["previous_seats"] == 2
    assert only(down)["type"] == "subscription.contracted"
    assert (only(down)["data"]["previous_seats"], only(down)["data"]["seats"]) == (4, 3)
    assert replay.events == down.events


def test_a_change_older_than_the_kept_state_or_without_one_is_not_guessed() -> None:
    created = run(delivery("subscription_created", sub(PLAN), at=T0 + 600))
    older = run(
        delivery(
            "subscription_changed",
            sub(ChargebeeItem("pro-USD-monthly", 4900, 9)),
            at=T0,
            eid="ev_0",
        ),
        created,
    )
    orphan = run(delivery("subscription_changed", sub(PLAN), eid="ev_9"))

    assert older.outcome == Outcome.IGNORED
    assert "out of order" in older.reason
    assert orphan.outcome == Outcome.UNMAPPED
    assert orphan.kept_state is not None, "kept, so the next change has something to compare"


def test_renewed_of_a_yearly_term_is_a_renewal_and_of_a_monthly_one_is_not() -> None:
    yearly = sub(
        ChargebeeItem("pro-USD-yearly", 117600, 2),
        period_unit="year",
        term_start=T0,
        term_end=T0 + 365 * 86400,
    )
    event = only(run(delivery("subscription_renewed", yearly)))
    monthly = run(delivery("subscription_renewed", sub(PLAN)))

    assert event["type"] == "subscription.renewed"
    assert event["data"]["mrr"] == {"amount": "196.00", "currency": "USD"}
    assert (
        event["data"]["term_end"]
        == datetime.fromtimestamp(T0 + 365 * 86400, UTC).date().isoformat()
    )
    assert monthly.outcome == Outcome.IGNORED


def test_cancelled_carries_the_day_and_reason() -> None:
    cancelled = sub(PLAN, status="cancelled", cancelled_at=T0 + 86400, cancel_reason="not_paid")
    event = only(run(delivery("subscription_cancelled", cancelled)))

    assert event["type"] == "subscription.cancelled"
    assert event["data"]["effective_date"] == "2025-12-02"
    assert event["data"]["reason"] == "not_paid"


def test_payments_map_to_invoice_events() -> None:
    paid = chargebee_event(
        "ev_p",
        "payment_succeeded",
        {
            "invoice": chargebee_invoice(
                "inv_1", customer_id="cust_1", subscription_id="sub_1", amount=9800, paid_at=T0
            ),
            "transaction": chargebee_transaction("txn_1", amount=9800, success=True),
        },
    )
    failed = chargebee_event(
        "ev_f",
        "payment_failed",
        {
            "invoice": chargebee_invoice(
                "inv_2",
                customer_id="cust_1",
                subscription_id="sub_1",
                amount=9800,
                dunning_attempts=2,
                next_retry_at=T0 + 86400,
            ),
            "transaction": chargebee_transaction("txn_2", amount=9800, success=False),
        },
    )

    paid_event, failed_event = only(run(paid)), only(run(failed))

    assert paid_event["type"] == "invoice.paid"
    assert paid_event["data"]["amount"] == {"amount": "98.00", "currency": "USD"}
    assert failed_event["type"] == "invoice.payment_failed"
    assert failed_event["data"]["attempt"] == 2
    assert failed_event["data"]["failure_reason"] == "Your card was declined."


def test_partner_from_subscription_then_customer_else_unmapped() -> None:
    bare = sub(PLAN, partner=None)
    content = {"subscription": bare, "customer": chargebee_customer("cust_1", partner="p-cust")}
    from_customer = only(run(chargebee_event("ev_1", "subscription_created", content)))
    none = run(delivery("subscription_created", bare))

    assert from_customer["data"]["partner_id"] == "p-cust"
    assert none.outcome == Outcome.UNMAPPED
    assert "cf_partner_id" in none.reason


def test_other_types_are_ignored() -> None:
    assert run(chargebee_event("ev_x", "customer_created", {})).outcome == Outcome.IGNORED
