"""Stripe events → Fourfold events, table by table, on real-shaped payloads (no I/O)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fourfold.events.registry import parse_input_event
from fourfold.ingest.adapters.amounts import RecurringLine, money, mrr
from fourfold.ingest.adapters.stripe import StripeMapping, translate
from fourfold.ingest.adapters.translation import Outcome, PayloadError
from fourfold.testing.billing_samples import (
    StripeLine,
    stripe_customer,
    stripe_event,
    stripe_invoice,
    stripe_subscription,
)

RULES = StripeMapping(source="https://api.stripe.com", partner_key="partner", renewal_min_months=12)
PRO = StripeLine("si_PRO1", "price_pro_m", "prod_pro", 4900, 2)
DAY = 86400
START = 1764547200  # 2025-12-01


def sub(*lines: StripeLine, **extra: Any) -> dict[str, Any]:
    return stripe_subscription("sub_1", "cus_1", list(lines), metadata={"partner": "p-7"}, **extra)


def created(subscription: dict[str, Any]) -> dict[str, Any]:
    return stripe_event("evt_c", "customer.subscription.created", subscription)


def updated(new: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    return stripe_event(
        "evt_u",
        "customer.subscription.updated",
        new,
        created=START + 40 * DAY,
        previous_attributes=previous,
    )


def items_of(*lines: StripeLine) -> dict[str, Any]:
    previous: dict[str, Any] = sub(*lines)["items"]
    return previous


def only(event: dict[str, Any], known: str | None = None) -> dict[str, Any]:
    translation = translate(event, RULES, known_partner=known)
    assert translation.outcome == Outcome.MAPPED, translation.reason
    [mapped] = translation.events
    parse_input_event(mapped)  # every mapped event passes the contract
    return mapped


@pytest.mark.parametrize(
    ("line", "mrr_amount", "currency"),
    [
        (PRO, "98.00", "USD"),  # 2 × 49.00 a month
        (StripeLine("si_1", "price_jpy", "prod_pro", 5000, 3, currency="jpy"), "15000", "JPY"),
        (StripeLine("si_1", "price_y", "prod_pro", 120000, 1, "year"), "100.00", "USD"),
        (StripeLine("si_1", "price_y", "prod_pro", 100000, 1, "year"), "83.3333", "USD"),
        (
            StripeLine("si_1", "price_y", "prod_pro", 99900, 7, "year", currency="eur"),
            "582.75",
            "EUR",
        ),
        (StripeLine("si_1", "price_q", "prod_pro", 30000, 1, "month", 3), "100.00", "USD"),
        (StripeLine("si_1", "price_w", "prod_pro", 1200, 1, "week"), "52.00", "USD"),
        (StripeLine("si_1", "price_kwd", "prod_pro", 12345, 1, currency="kwd"), "12.345", "KWD"),
        (
            StripeLine("si_1", "price_jpy_y", "prod_pro", 10000, 1, "year", currency="jpy"),
            "833.3333",
            "JPY",
        ),
    ],
)
def test_created_maps_plan_seats_and_mrr_exactly(
    line: StripeLine, mrr_amount: str, currency: str
) -> None:
    event = only(created(sub(line, period_end=START + 31 * DAY)))

    assert event["type"] == "subscription.created"
    assert event["id"] == "evt_c"
    assert event["time"] == "2025-12-01T00:01:40Z"
    assert event["data"] == {
        "subscription_id": "sub_1",
        "customer_id": "cus_1",
        "partner_id": "p-7",
        "plan": line.price_id,
        "seats": line.quantity,
        "mrr": {"amount": mrr_amount, "currency": currency},
        "start_date": "2025-12-01",
        "term_end": "2026-01-01",
    }


def test_mrr_sums_every_licensed_item_and_a_metered_one_counts_zero() -> None:
    addon = StripeLine("si_SSO", "price_sso", "prod_sso", 1000, 2)
    metered = StripeLine("si_API", "price_api", "prod_api", 5, None, usage_type="metered")

    event = only(created(sub(PRO, addon, metered)))

    assert event["data"]["mrr"] == {"amount": "118.00", "currency": "USD"}
    assert event["data"]["seats"] == 2, "seats are the plan item's quantity"


def test_lookup_key_names_the_plan_when_there_is_one() -> None:
    line = StripeLine("si_1", "price_1Pq", "prod_pro", 4900, 2, lookup_key="pro-monthly")
    assert only(created(sub(line)))["data"]["plan"] == "pro-monthly"


@pytest.mark.parametrize(
    ("before", "after", "kind", "change"),
    [
        (  # more seats: upsell
            [PRO],
            [StripeLine("si_PRO1", "price_pro_m", "prod_pro", 4900, 5)],
            "subscription.expanded",
            ("price_pro_m", "price_pro_m", 2, 5, "98.00", "245.00"),
        ),
        (  # fewer seats: contraction
            [StripeLine("si_PRO1", "price_pro_m", "prod_pro", 4900, 5)],
            [PRO],
            "subscription.contracted",
            ("price_pro_m", "price_pro_m", 5, 2, "245.00", "98.00"),
        ),
        (  # the same item on a cheaper price: a downgrade
            [PRO],
            [StripeLine("si_PRO1", "price_pro_lite", "prod_pro", 2900, 2)],
            "subscription.contracted",
            ("price_pro_m", "price_pro_lite", 2, 2, "98.00", "58.00"),
        ),
        (  # another product swapped in for the plan: not a cross-sell
            [PRO],
            [StripeLine("si_ENT1", "price_ent_m", "prod_ent", 9900, 2)],
            "subscription.expanded",
            ("price_pro_m", "price_ent_m", 2, 2, "98.00", "198.00"),
        ),
        (  # an added item of a product it already had: expansion, not cross-sell
            [PRO],
            [PRO, StripeLine("si_PRO2", "price_pro_m2", "prod_pro", 4900, 1)],
            "subscription.expanded",
            ("price_pro_m", "price_pro_m", 2, 2, "98.00", "147.00"),
        ),
        (  # monthly to a yearly price worth twice as much a month
            [PRO],
            [StripeLine("si_PRO1", "price_pro_y", "prod_pro", 117600, 2, "year")],
            "subscription.expanded",
            ("price_pro_m", "price_pro_y", 2, 2, "98.00", "196.00"),
        ),
    ],
)
def test_updated_items_tell_upsell_from_contraction(
    before: list[StripeLine], after: list[StripeLine], kind: str, change: tuple[Any, ...]
) -> None:
    event = only(updated(sub(*after), {"items": items_of(*before)}))

    previous_plan, plan, previous_seats, seats, previous_mrr, new_mrr = change
    assert event["type"] == kind
    data = event["data"]
    assert (data["previous_plan"], data["plan"]) == (previous_plan, plan)
    assert (data["previous_seats"], data["seats"]) == (previous_seats, seats)
    assert data["previous_mrr"] == {"amount": previous_mrr, "currency": "USD"}
    assert data["mrr"] == {"amount": new_mrr, "currency": "USD"}


def test_an_item_of_a_new_product_is_a_cross_sell() -> None:
    sso = StripeLine("si_SSO", "price_sso", "prod_sso", 1500, 2)

    event = only(updated(sub(PRO, sso), {"items": items_of(PRO)}))

    assert event["type"] == "subscription.addon_added"
    assert event["data"]["addon"] == "price_sso"
    assert event["data"]["addon_mrr"] == {"amount": "30.00", "currency": "USD"}
    assert event["data"]["mrr"] == {"amount": "128.00", "currency": "USD"}


def test_a_new_period_of_a_yearly_term_is_a_renewal_and_of_a_monthly_one_is_not() -> None:
    yearly = StripeLine("si_Y", "price_pro_y", "prod_pro", 117600, 2, "year")
    next_start, next_end = START + 365 * DAY, START + 730 * DAY
    renewed = sub(yearly, period_start=next_start, period_end=next_end)
    event = only(
        updated(
            renewed,
            {
                "current_period_start": START,
                "current_period_end": next_start,
                "latest_invoice": "in_0",
            },
        )
    )

    assert event["type"] == "subscription.renewed"
    assert event["data"]["term_start"] == "2026-12-01"
    assert event["data"]["term_end"] == "2027-12-01"
    assert event["data"]["mrr"] == {"amount": "196.00", "currency": "USD"}

    monthly = sub(PRO, period_start=START + 31 * DAY, period_end=START + 62 * DAY)
    translation = translate(
        updated(monthly, {"current_period_start": START, "current_period_end": START + 31 * DAY}),
        RULES,
        known_partner=None,
    )
    assert translation.outcome == Outcome.IGNORED
    assert "new billing period" in translation.reason


def test_a_renewal_with_more_seats_is_two_events_with_distinct_ids() -> None:
    before = StripeLine("si_Y", "price_pro_y", "prod_pro", 117600, 2, "year")
    after = StripeLine("si_Y", "price_pro_y", "prod_pro", 117600, 4, "year")
    event = updated(
        sub(after, period_start=START + 365 * DAY, period_end=START + 730 * DAY),
        {"current_period_start": START, "items": items_of(before)},
    )

    translation = translate(event, RULES, known_partner=None)

    assert [e["type"] for e in translation.events] == [
        "subscription.renewed",
        "subscription.expanded",
    ]
    assert [e["id"] for e in translation.events] == ["evt_u", "evt_u:2"]


def test_basil_period_on_items_is_read_too() -> None:
    yearly = StripeLine("si_Y", "price_pro_y", "prod_pro", 117600, 2, "year")
    new = sub(yearly)
    for name in ("current_period_start", "current_period_end"):
        del new[name]
    new["items"]["data"][0]["current_period_start"] = START + 365 * DAY
    new["items"]["data"][0]["current_period_end"] = START + 730 * DAY
    old_items = copy.deepcopy(new["items"])
    old_items["data"][0]["current_period_start"] = START

    event = only(updated(new, {"items": old_items}))

    assert event["type"] == "subscription.renewed"
    assert event["data"]["term_end"] == "2027-12-01"


@pytest.mark.parametrize(
    "previous", [{"status": "incomplete"}, {"cancel_at_period_end": False}, {"metadata": {}}]
)
def test_updates_fourfold_does_not_use_are_ignored(previous: dict[str, Any]) -> None:
    translation = translate(updated(sub(PRO), previous), RULES, known_partner=None)
    assert translation.outcome == Outcome.IGNORED
    assert translation.events == []


def test_deleted_is_a_cancellation_on_the_day_it_ended() -> None:
    ended = sub(
        PRO,
        status="canceled",
        canceled_at=START + 50 * DAY,
        ended_at=START + 60 * DAY,
        cancellation_reason="cancellation_requested",
    )
    event = only(stripe_event("evt_d", "customer.subscription.deleted", ended))

    assert event["type"] == "subscription.cancelled"
    assert event["data"]["effective_date"] == "2026-01-30"
    assert event["data"]["reason"] == "cancellation_requested"


def test_invoice_paid_and_failed_carry_the_amount_in_major_units() -> None:
    paid = stripe_invoice(
        "in_9", customer="cus_1", subscription="sub_1", amount=9800, paid_at=START + DAY
    )
    failed = stripe_invoice(
        "in_10",
        customer="cus_1",
        subscription="sub_1",
        amount=500000,
        currency="jpy",
        attempt_count=2,
        next_payment_attempt=START + 3 * DAY,
    )

    paid_event = only(stripe_event("evt_p", "invoice.paid", paid))
    failed_event = only(stripe_event("evt_f", "invoice.payment_failed", failed))

    assert paid_event["data"] == {
        "invoice_id": "in_9",
        "subscription_id": "sub_1",
        "customer_id": "cus_1",
        "amount": {"amount": "98.00", "currency": "USD"},
        "paid_at": "2025-12-02T00:00:00+00:00",
    }
    assert failed_event["data"]["amount"] == {"amount": "500000", "currency": "JPY"}
    assert failed_event["data"]["attempt"] == 2
    assert failed_event["data"]["next_retry_at"] == "2025-12-04T00:00:00+00:00"


def test_invoice_subscription_under_parent_as_basil_sends_it() -> None:
    invoice = stripe_invoice("in_9", customer="cus_1", subscription=None, amount=100, paid_at=START)
    del invoice["subscription"]
    invoice["parent"] = {
        "quote_details": None,
        "subscription_details": {"metadata": {}, "subscription": "sub_1"},
        "type": "subscription_details",
    }
    assert (
        only(stripe_event("evt_p", "invoice.paid", invoice))["data"]["subscription_id"] == "sub_1"
    )


def test_an_invoice_of_no_subscription_is_ignored() -> None:
    invoice = stripe_invoice("in_9", customer="cus_1", subscription=None, amount=100, paid_at=START)
    translation = translate(
        stripe_event("evt_p", "invoice.paid", invoice), RULES, known_partner=None
    )
    assert translation.outcome == Outcome.IGNORED


def test_partner_from_subscription_then_customer_else_unmapped() -> None:
    bare = stripe_subscription("sub_1", "cus_1", [PRO])
    assert translate(created(bare), RULES, known_partner=None).outcome == Outcome.UNMAPPED
    assert "metadata.partner" in translate(created(bare), RULES, known_partner=None).reason
    assert only(created(bare), known="p-from-customer")["data"]["partner_id"] == "p-from-customer"
    expanded = copy.deepcopy(bare)
    expanded["customer"] = stripe_customer("cus_1", metadata={"partner": "p-expanded"})
    assert only(created(expanded))["data"]["partner_id"] == "p-expanded"
    assert only(created(expanded))["data"]["customer_id"] == "cus_1"


def test_customer_events_teach_the_partner_of_record() -> None:
    customer = stripe_customer("cus_1", metadata={"partner": "p-9"})
    learned = translate(
        stripe_event("evt_k", "customer.updated", customer), RULES, known_partner=None
    )
    without = translate(
        stripe_event("evt_k", "customer.created", stripe_customer("cus_2")),
        RULES,
        known_partner=None,
    )

    assert (learned.outcome, learned.learned_partner) == (Outcome.MAPPED, ("cus_1", "p-9"))
    assert (without.outcome, without.learned_partner) == (Outcome.IGNORED, None)


def test_types_fourfold_does_not_use_are_ignored_by_name() -> None:
    translation = translate(
        stripe_event("evt_x", "charge.succeeded", {"id": "ch_1"}), RULES, known_partner=None
    )
    assert translation.outcome == Outcome.IGNORED
    assert "charge.succeeded" in translation.reason


def test_a_payload_of_another_shape_raises_payload_error() -> None:
    broken = sub(PRO)
    del broken["items"]["data"][0]["price"]["currency"]
    del broken["items"]["data"][0]["plan"]
    with pytest.raises(PayloadError, match="currency"):
        translate(created(broken), RULES, known_partner=None)


@given(
    unit=st.integers(min_value=0, max_value=10**9),
    quantity=st.integers(min_value=0, max_value=10_000),
    interval=st.sampled_from(["month", "year"]),
    count=st.integers(min_value=1, max_value=3),
)
def test_mrr_is_rounded_once_and_never_more_than_half_a_unit_of_the_last_place(
    unit: int, quantity: int, interval: str, count: int
) -> None:
    line = RecurringLine("si", "price", "prod", Decimal(unit) / 100, quantity, interval, count)
    months = 12 * count if interval == "year" else count
    exact = Decimal(unit) / 100 * quantity / months

    rounded = money(mrr([line]), "EUR").amount

    assert abs(rounded - exact) <= Decimal("0.00005")
