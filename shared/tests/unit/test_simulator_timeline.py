"""The simulated vendor's timeline: reproducible, valid against the contracts, true to archetype."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fourfold.events import parse_input_event
from fourfold.events.activity import Milestone
from fourfold.simulator.archetypes import ACTIVATION_UTILISATION, CLAWBACK_WINDOW_DAYS, Archetype
from fourfold.simulator.timeline import Timeline
from fourfold.simulator.vendor import PLANS, Tier, Vendor, build_vendor
from fourfold.simulator.wire import Planned, Wire

START = date(2026, 1, 5)
YEAR = 365
REQUIRED_TYPES = {
    "subscription.created",
    "subscription.renewed",
    "subscription.expanded",
    "subscription.addon_added",
    "subscription.contracted",
    "subscription.cancelled",
    "invoice.paid",
    "invoice.payment_failed",
    "usage.reported",
    "milestone.completed",
    "feedback.submitted",
    "partner.certified",
}
CORE_MILESTONES = {Milestone.KICKOFF, Milestone.CONFIGURED, Milestone.FIRST_VALUE}


def _bytes(events: list[Planned]) -> bytes:
    return b"\n".join(orjson.dumps(p.event) for p in events)


@pytest.fixture(scope="module")
def vendor() -> Vendor:
    return build_vendor(seed=11, partners=14, customers=120, signup_days=60)


@pytest.fixture(scope="module")
def year(vendor: Vendor) -> list[Planned]:
    return list(Timeline(vendor, start=START).events(YEAR))


@pytest.fixture(scope="module")
def by_customer(year: list[Planned]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for planned in year:
        customer = planned.event["data"].get("customer_id")
        if customer is not None:
            found[customer].append(planned.event)
    return found


def _of(events: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == type_]


def _customers(vendor: Vendor, archetype: Archetype) -> list[str]:
    found = [c.customer_id for c in vendor.customers if c.archetype is archetype]
    assert found, f"the vendor has no {archetype} customer to test"
    return found


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_events() -> None:
    first = build_vendor(seed=5, partners=6, customers=30, signup_days=20)
    again = build_vendor(seed=5, partners=6, customers=30, signup_days=20)
    other = build_vendor(seed=6, partners=6, customers=30, signup_days=20)
    run = _bytes(list(Timeline(first, start=START).events(60)))
    assert run == _bytes(list(Timeline(again, start=START).events(60)))
    assert run != _bytes(list(Timeline(other, start=START).events(60)))
    assert run.count(b"\n") > 500


def test_a_day_is_the_same_whichever_days_were_generated_before(
    vendor: Vendor, year: list[Planned]
) -> None:
    """What lets a live run start on any day, and a restarted one repeat its ids."""
    for n in (0, 45, 200):
        day = START + timedelta(days=n)
        alone = Timeline(vendor, start=START).day(n)
        assert alone, f"day {n} has events"
        assert _bytes(alone) == _bytes([p for p in year if p.at.date() == day])


def test_every_event_parses_with_the_contracts_and_keeps_its_bytes(year: list[Planned]) -> None:
    for planned in year:
        raw = orjson.dumps(planned.event)
        parsed = parse_input_event(raw)
        assert parsed.time == planned.at
        assert parsed.type == planned.event["type"]
        sent = parsed.data.model_dump(mode="json", exclude_unset=True)
        assert orjson.loads(orjson.dumps(sent)) == orjson.loads(raw)["data"]
    assert {p.event["type"] for p in year} >= REQUIRED_TYPES


def test_events_are_in_time_order_inside_the_run_with_unique_ids(year: list[Planned]) -> None:
    times = [p.at for p in year]
    assert times == sorted(times)
    assert times[0].date() >= START
    assert times[-1].date() < START + timedelta(days=YEAR)
    ids = [p.event["id"] for p in year]
    assert len(set(ids)) == len(ids)


def test_nothing_is_reported_about_a_period_that_has_not_ended(year: list[Planned]) -> None:
    for planned in year:
        data = planned.event["data"]
        for field in ("completed_at", "paid_at", "submitted_at", "certified_at", "period_end"):
            if field in data:
                assert datetime.fromisoformat(data[field]) <= planned.at


def test_a_customer_begins_with_its_subscription_and_stays_with_its_partner(
    vendor: Vendor, by_customer: dict[str, list[dict[str, Any]]]
) -> None:
    partners = {p.partner_id: p for p in vendor.partners}
    for customer in vendor.customers:
        events = by_customer[customer.customer_id]
        assert events[0]["type"] == "subscription.created"
        created = events[0]["data"]
        assert created["partner_id"] == customer.partner_id
        assert created["mrr"]["currency"] == partners[customer.partner_id].currency
        for event in events:
            assert event["data"].get("partner_id", customer.partner_id) == customer.partner_id


def _check_billing_chain(events: list[dict[str, Any]]) -> None:
    """previous_* of a change is exactly the state left by the one before it."""
    state: dict[str, Any] = {}
    for event in events:
        data = event["data"]
        if event["type"] in ("subscription.expanded", "subscription.contracted"):
            previous = {"plan": data["previous_plan"], "seats": data["previous_seats"]}
            assert previous | {"mrr": data["previous_mrr"]} == state
        if event["type"] == "subscription.addon_added":
            added = Decimal(data["mrr"]["amount"]) - Decimal(state["mrr"]["amount"])
            assert added == Decimal(data["addon_mrr"]["amount"]) > 0
            state = state | {"mrr": data["mrr"]}
        elif "seats" in data and "plan" in data:
            state = {"plan": data["plan"], "seats": data["seats"], "mrr": data["mrr"]}
        if event["type"] == "invoice.paid":
            assert data["amount"] == state["mrr"], "an invoice bills the mrr in force"


def test_each_billing_change_starts_from_what_the_previous_one_left(
    vendor: Vendor, by_customer: dict[str, list[dict[str, Any]]]
) -> None:
    for customer in vendor.customers:
        _check_billing_chain(by_customer[customer.customer_id])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
@example(seed=4711)  # an expansion and an add-on on the same day, once emitted out of order
def test_for_any_seed_the_billing_chain_holds_and_churners_leave_in_the_window(
    seed: int,
) -> None:
    vendor = build_vendor(seed=seed, partners=2, customers=8, signup_days=20)
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for planned in Timeline(vendor, start=START).events(420):
        if "customer_id" in planned.event["data"]:
            events[planned.event["data"]["customer_id"]].append(planned.event)
    for customer in vendor.customers:
        history = events[customer.customer_id]
        _check_billing_chain(history)
        start = date.fromisoformat(history[0]["data"]["start_date"])
        for cancelled in _of(history, "subscription.cancelled"):
            effective = date.fromisoformat(cancelled["effective_date"])
            if customer.archetype is Archetype.CHURNS_EARLY:
                assert (effective - start).days < CLAWBACK_WINDOW_DAYS


def test_money_is_a_cent_exact_decimal_string(year: list[Planned]) -> None:
    for planned in year:
        for value in planned.event["data"].values():
            if isinstance(value, dict) and "amount" in value:
                assert Decimal(value["amount"]) == Decimal(value["amount"]).quantize(
                    Decimal("0.01")
                )
                assert Decimal(value["amount"]) > 0


def test_the_churner_cancels_inside_the_clawback_window_and_goes_quiet(
    vendor: Vendor, by_customer: dict[str, list[dict[str, Any]]]
) -> None:
    for customer_id in _customers(vendor, Archetype.CHURNS_EARLY):
        events = by_customer[customer_id]
        start = date.fromisoformat(_of(events, "subscription.created")[0]["start_date"])
        (cancelled,) = _of(events, "subscription.cancelled")
        effective = date.fromisoformat(cancelled["effective_date"])
        assert (effective - start).days < CLAWBACK_WINDOW_DAYS
        for usage in _of(events, "usage.reported"):
            assert datetime.fromisoformat(usage["period_end"]).date() <= effective
        assert not _of(events, "subscription.renewed")
        assert not _of(events, "subscription.expanded")


def test_the_staller_never_reaches_activation_nor_first_value(
    vendor: Vendor, by_customer: dict[str, list[dict[str, Any]]]
) -> None:
    for customer_id in _customers(vendor, Archetype.STALLS_IN_IMPLEMENT):
        events = by_customer[customer_id]
        reached = {m["milestone"] for m in _of(events, "milestone.completed")}
        assert Milestone.KICKOFF in reached
        assert Milestone.FIRST_VALUE not in reached
        seats = 0
        for event in events:
            data = event["data"]
            seats = data.get("seats", seats)
            if event["type"] == "usage.reported" and data["metric"] == "seats_used":
                assert data["value"] / seats < ACTIVATION_UTILISATION


def test_the_good_onboarder_is_activated_with_its_core_milestones_within_two_months(
    vendor: Vendor, by_customer: dict[str, list[dict[str, Any]]]
) -> None:
    for customer_id in _customers(vendor, Archetype.ONBOARDS_WELL):
        events = by_customer[customer_id]
        created = _of(events, "subscription.created")[0]
        by = datetime.fromisoformat(events[0]["time"]) + timedelta(days=60)
        early = [e for e in events if datetime.fromisoformat(e["time"]) <= by]
        reached = {m["milestone"] for m in _of(early, "milestone.completed")}
        assert reached >= CORE_MILESTONES
        used = [u["value"] for u in _of(early, "usage.reported") if u["metric"] == "seats_used"]
        assert max(used) / created["seats"] >= ACTIVATION_UTILISATION
        assert not _of(events, "invoice.payment_failed")
        assert not _of(events, "subscription.cancelled")


def test_the_expander_buys_more_seats_and_an_addon(
    vendor: Vendor, by_customer: dict[str, list[dict[str, Any]]]
) -> None:
    for customer_id in _customers(vendor, Archetype.EXPANDS):
        events = by_customer[customer_id]
        expanded = _of(events, "subscription.expanded")
        assert expanded
        assert all(e["seats"] > e["previous_seats"] for e in expanded)
        assert Decimal(expanded[0]["mrr"]["amount"]) > Decimal(
            expanded[0]["previous_mrr"]["amount"]
        )
        assert len(_of(events, "subscription.addon_added")) == 1


def test_the_renewer_renews_at_the_end_of_its_first_term(
    vendor: Vendor, by_customer: dict[str, list[dict[str, Any]]]
) -> None:
    for customer_id in _customers(vendor, Archetype.RENEWS):
        events = by_customer[customer_id]
        created = _of(events, "subscription.created")[0]
        (renewed,) = _of(events, "subscription.renewed")
        assert renewed["term_start"] == created["term_end"]
        assert date.fromisoformat(renewed["term_end"]) > date.fromisoformat(created["term_end"])
        assert renewed["seats"] >= created["seats"]


def test_the_late_payer_fails_first_and_pays_each_failed_invoice_later(
    vendor: Vendor, by_customer: dict[str, list[dict[str, Any]]]
) -> None:
    for customer_id in _customers(vendor, Archetype.PAYS_LATE):
        events = by_customer[customer_id]
        failed = _of(events, "invoice.payment_failed")
        assert failed
        paid = {p["invoice_id"]: p for p in _of(events, "invoice.paid")}
        for failure in failed:
            if failure["invoice_id"] in paid:  # the last ones may be paid after the run
                paid_at = datetime.fromisoformat(paid[failure["invoice_id"]]["paid_at"])
                assert paid_at > datetime.fromisoformat(failure["next_retry_at"]) - timedelta(
                    days=3
                )
                assert paid[failure["invoice_id"]]["amount"] == failure["amount"]


def test_the_vendor_has_dozens_of_partners_with_tiers_and_certifications() -> None:
    vendor = build_vendor(seed=1)
    assert len(vendor.partners) == 36
    assert len(vendor.customers) == 300
    assert {p.tier for p in vendor.partners} == set(Tier)
    assert all(p.certifications for p in vendor.partners if p.tier is not Tier.REGISTERED)
    assert len({p.partner_id for p in vendor.partners}) == 36
    assert {c.archetype for c in vendor.customers} == set(Archetype)
    assert {c.plan for c in vendor.customers} == set(PLANS)
    for customer in vendor.customers:
        low, high = PLANS[customer.plan].seats
        assert low <= customer.seats <= high


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"partners": 0}, "partners"),
        ({"partners": 10_000}, "partners"),
        ({"customers": -1}, "customers"),
        ({"signup_days": 0}, "signup_days"),
        ({"prefix": "x" * 65}, "prefix"),
        ({"prefix": "a\x00"}, "prefix"),
    ],
)
def test_an_impossible_vendor_is_refused_naming_the_argument(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_vendor(seed=1, **arguments)


def test_a_prefix_goes_before_every_partner_and_customer_id() -> None:
    plain = build_vendor(seed=4, partners=3, customers=9)
    prefixed = build_vendor(seed=4, partners=3, customers=9, prefix="acme-")
    assert [p.partner_id for p in prefixed.partners] == [
        f"acme-{p.partner_id}" for p in plain.partners
    ]
    for customer in prefixed.customers:
        assert customer.customer_id.startswith("acme-cust-")
        assert customer.partner_id.startswith("acme-")


def test_ids_are_the_name_based_uuids_of_the_run() -> None:
    wire = Wire(seed=3, start=START)
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"https://simulator.fourfold.dev/3/{START}")
    for key in ("cust-00001/created", "p/certified/x", ""):
        assert wire.event_id(key) == str(uuid.uuid5(namespace, key))
    assert Wire(seed=3, start=START + timedelta(days=1)).event_id("k") != wire.event_id("k")


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), first_day=st.integers(0, 400))
def test_any_seed_and_any_stretch_of_days_gives_contract_valid_events(
    seed: int, first_day: int
) -> None:
    vendor = build_vendor(seed=seed, partners=3, customers=12, signup_days=30)
    for planned in Timeline(vendor, start=START).events(20, first_day=first_day):
        assert parse_input_event(orjson.dumps(planned.event)).time == planned.at
