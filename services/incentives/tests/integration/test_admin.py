"""Admin routes: approvals, holds, payouts (idempotent on the reference, frozen once paid),
rejections, disputes, tiers, programs, what-if and recalculation. Amounts by hand from the
default program (new_logo 5% of first-year ARR, hold 30 days, gold tier 1.2); the clock
reads 2027-06-15."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from fourfold.events import ACTIVITY_TOPIC, parse_event
from fourfold.incentives.domain.program import default_program, default_program_text
from fourfold.incentives.samples import Customer
from fourfold.testing.kafka import read_topic

if TYPE_CHECKING:
    from conftest import Service

pytestmark = pytest.mark.integration


def at(month: int, day: int) -> datetime:
    return datetime(2027, month, day, 9, tzinfo=UTC)


async def entries(s: Service, partner: str) -> list[dict[str, Any]]:
    response = await s.client.get(
        f"/v1/incentives/partners/{partner}/entries", headers=s.auth("partner", partner)
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def test_hold_approve_pay_freeze_and_carry_a_clawback(shared_service: Service) -> None:
    s, p = shared_service, f"pp-{uuid.uuid4().hex[:6]}"
    april, june = Customer(f"c1-{p}", p), Customer(f"c2-{p}", p)
    await s.produce([april.created(at(4, 10), "1000.00"), june.created(at(6, 1), "500.00")])
    await s.wait_entries(p, 2)
    by_customer = {e["customer_id"]: e for e in await entries(s, p)}
    held, ready = by_customer[june.customer_id], by_customer[april.customer_id]
    assert held["status"] == "accrued"  # payable from 2027-07-01
    assert ready["status"] == "payable"

    admin = s.auth()
    response = await s.client.post(
        f"/v1/admin/incentives/entries/{held['entry_id']}/approve", headers=admin
    )
    assert response.status_code == 409
    assert "holding period" in response.json()["detail"]
    response = await s.client.post(
        f"/v1/admin/incentives/partners/{p}/statements/2027-06/approve", headers=admin
    )
    assert response.status_code == 409  # the period is not over
    response = await s.client.post(
        f"/v1/admin/incentives/partners/{p}/statements/2027-04/pay",
        json={"payout_reference": f"r-{p}"},
        headers=admin,
    )
    assert response.status_code == 409  # not approved yet
    response = await s.client.post(
        f"/v1/admin/incentives/partners/{p}/statements/2027-04/approve", headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"

    pay = {"payout_reference": f"r-{p}"}
    first = await s.client.post(
        f"/v1/admin/incentives/partners/{p}/statements/2027-04/pay", json=pay, headers=admin
    )
    assert first.status_code == 200, first.text
    again = await s.client.post(
        f"/v1/admin/incentives/partners/{p}/statements/2027-04/pay", json=pay, headers=admin
    )
    assert again.status_code == 200
    assert again.json() == first.json()
    other = await s.client.post(
        f"/v1/admin/incentives/partners/{p}/statements/2027-04/pay",
        json={"payout_reference": f"x-{p}"},
        headers=admin,
    )
    assert other.status_code == 409
    statement = first.json()
    assert statement["status"] == "paid"
    assert statement["payout_reference"] == f"r-{p}"
    assert statement["currencies"][0]["paid"] == "600.00"
    frozen = await s.client.post(
        f"/v1/admin/incentives/entries/{ready['entry_id']}/reject",
        json={"reason": "late"},
        headers=admin,
    )
    assert frozen.status_code == 409
    assert (await entries(s, p))[0]["status"] == "paid"

    # cancelled 2027-06-10, inside 90 days of 2027-04-10: the paid new logo is clawed back
    await s.produce([april.cancelled(at(6, 10))])
    await s.wait_entries(p, 3)
    balance = (
        await s.client.get(f"/v1/incentives/partners/{p}/balance", headers=s.auth("partner", p))
    ).json()
    (usd,) = balance["currencies"]
    assert (usd["total"], usd["paid"], usd["due"]) == ("300.00", "600.00", "-300.00")
    june_statement = (
        await s.client.get(f"/v1/incentives/partners/{p}/statements/2027-06", headers=admin)
    ).json()
    (line,) = june_statement["currencies"]
    assert (line["opening"], line["earned"], line["reversed"], line["closing"]) == (
        "600.00",
        "300.00",
        "-600.00",
        "300.00",
    )
    assert (line["paid_before"], line["due"]) == ("600.00", "-300.00")  # carried forward


async def test_a_late_entry_of_an_approved_month_is_approved_before_payment_and_one_after_it_lands_in_the_open_month(  # noqa: E501
    shared_service: Service,
) -> None:
    s, p = shared_service, f"pl-{uuid.uuid4().hex[:6]}"
    c = Customer(f"c-{p}", p)
    admin = s.auth()
    statement_url = f"/v1/admin/incentives/partners/{p}/statements/2027-04"
    april_url = f"/v1/incentives/partners/{p}/statements/2027-04"
    await s.produce([c.created(at(4, 10), "1000.00")])
    await s.wait_entries(p, 1)
    response = await s.client.post(f"{statement_url}/approve", headers=admin)
    assert response.status_code == 200, response.text

    # first value on 2027-04-20, told after the approval: an implementation bonus of April
    await s.produce([c.milestone(at(4, 20), "first_value")])
    await s.wait_entries(p, 2)
    late = next(e for e in await entries(s, p) if e["rule"] == "implementation_bonus")
    assert (late["period"], late["status"]) == ("2027-04", "payable")
    pay = {"payout_reference": f"r-{p}"}
    refused = await s.client.post(f"{statement_url}/pay", json=pay, headers=admin)
    assert refused.status_code == 409
    assert "approve the statement again" in refused.json()["detail"]

    again = await s.client.post(f"{statement_url}/approve", headers=admin)
    assert again.status_code == 200, again.text
    paid = await s.client.post(f"{statement_url}/pay", json=pay, headers=admin)
    assert paid.status_code == 200, paid.text
    amounts = {e["rule"]: Decimal(e["amount"]) for e in await entries(s, p)}
    (line,) = paid.json()["currencies"]
    assert Decimal(line["paid"]) == amounts["new_logo"] + amounts["implementation_bonus"]
    assert {e["status"] for e in await entries(s, p)} == {"paid"}

    # an expansion of 2027-04-25, told after the payment: April stays as paid
    april_json = (await s.client.get(april_url, headers=admin)).json()
    april_csv = (await s.client.get(f"{april_url}.csv", headers=admin)).text
    assert april_json == paid.json()
    await s.produce([c.expanded(at(4, 25), "1500.00")])
    await s.wait_entries(p, 3)
    upsell = next(e for e in await entries(s, p) if e["rule"] == "upsell")
    assert upsell["period"] == "2027-06"  # the open period at the clock's now
    assert (await s.client.get(april_url, headers=admin)).json() == april_json
    assert (await s.client.get(f"{april_url}.csv", headers=admin)).text == april_csv


async def test_a_rejected_entry_shows_its_reason_and_counts_nowhere(
    shared_service: Service,
) -> None:
    s, p = shared_service, f"pr-{uuid.uuid4().hex[:6]}"
    c = Customer(f"c-{p}", p)
    await s.produce([c.created(at(3, 1), "1000.00")])
    await s.wait_entries(p, 1)
    (entry,) = await entries(s, p)
    response = await s.client.post(
        f"/v1/admin/incentives/entries/{entry['entry_id']}/reject",
        json={"reason": "duplicate deal"},
        headers=s.auth(),
    )
    assert response.status_code == 204
    seen = (
        await s.client.get(
            f"/v1/incentives/partners/{p}/entries/{entry['entry_id']}", headers=s.auth("partner", p)
        )
    ).json()
    assert seen["status"] == "rejected"
    assert seen["history"][0]["reason"] == "duplicate deal"
    balance = (
        await s.client.get(f"/v1/incentives/partners/{p}/balance", headers=s.auth("partner", p))
    ).json()
    assert balance["currencies"] == []
    blank = await s.client.post(
        f"/v1/admin/incentives/entries/{entry['entry_id']}/reject",
        json={"reason": ""},
        headers=s.auth(),
    )
    assert blank.status_code == 422
    assert blank.json()["detail"][0]["loc"] == ["body", "reason"]


async def test_disputes_accept_with_an_adjustment_or_reject(shared_service: Service) -> None:
    s, p = shared_service, f"pd-{uuid.uuid4().hex[:6]}"
    c = Customer(f"c-{p}", p)
    await s.produce([c.created(at(3, 1), "1000.00"), c.milestone(at(3, 5), "first_value")])
    await s.wait_entries(p, 2)
    first, second = await entries(s, p)
    partner = s.auth("partner", p)
    opened = await s.client.post(
        f"/v1/incentives/partners/{p}/disputes",
        json={"entry_id": first["entry_id"], "comment": "ARR was higher"},
        headers=partner,
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()["dispute_id"]
    bad = await s.client.post(
        f"/v1/admin/incentives/disputes/{dispute}/accept",
        json={"amount": "12.345", "comment": "ok"},
        headers=s.auth(),
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "amount"]
    accepted = await s.client.post(
        f"/v1/admin/incentives/disputes/{dispute}/accept",
        json={"amount": "50.00", "comment": "agreed"},
        headers=s.auth(),
    )
    assert accepted.status_code == 200, accepted.text
    thread = accepted.json()["thread"]
    assert [m["kind"] for m in thread] == ["opened", "accepted"]
    adjustment_id = thread[1]["adjustment_entry_id"]
    adjustment = (
        await s.client.get(f"/v1/incentives/partners/{p}/entries/{adjustment_id}", headers=partner)
    ).json()
    assert (adjustment["kind"], adjustment["amount"], adjustment["period"]) == (
        "adjustment",
        "50.00",
        "2027-06",
    )
    assert adjustment["reverses_entry_id"] == first["entry_id"]
    twice = await s.client.post(
        f"/v1/admin/incentives/disputes/{dispute}/accept",
        json={"amount": "50.00", "comment": "again"},
        headers=s.auth(),
    )
    assert twice.status_code == 409

    other = (
        await s.client.post(
            f"/v1/incentives/partners/{p}/disputes",
            json={"entry_id": second["entry_id"], "comment": "and this"},
            headers=partner,
        )
    ).json()
    rejected = await s.client.post(
        f"/v1/admin/incentives/disputes/{other['dispute_id']}/reject",
        json={"reason": "as agreed"},
        headers=s.auth(),
    )
    assert rejected.json()["status"] == "rejected"
    listed = (await s.client.get(f"/v1/incentives/partners/{p}/disputes", headers=partner)).json()[
        "items"
    ]
    assert sorted(d["status"] for d in listed) == ["accepted", "rejected"]
    assert listed[1]["thread"][-1]["text"] == "as agreed"


async def test_setting_a_tier_emits_the_event_and_accelerates_later_events(
    shared_service: Service,
) -> None:
    s, p = shared_service, f"pt-{uuid.uuid4().hex[:6]}"
    tier_url = f"/v1/incentives/partners/{p}/tier"
    before = (await s.client.get(tier_url, headers=s.auth("partner", p))).json()
    assert (before["tier"], before["changes"]) == ("registered", [])  # the program's default
    response = await s.client.put(
        f"/v1/admin/incentives/partners/{p}/tier",
        json={"tier": "gold", "effective_at": "2027-01-01T00:00:00Z", "reason": "q4 review"},
        headers=s.auth(),
    )
    assert response.status_code == 200, response.text
    event_id = response.json()["event_id"]
    later = await s.client.put(  # takes effect after the clock's now: not in force yet
        f"/v1/admin/incentives/partners/{p}/tier",
        json={"tier": "platinum", "effective_at": "2028-01-01T00:00:00Z"},
        headers=s.auth(),
    )
    assert later.status_code == 200, later.text
    seen = (await s.client.get(tier_url, headers=s.auth("partner", p))).json()
    assert seen["tier"] == "gold"
    assert [(c["tier"], c["event_id"], c["reason"]) for c in seen["changes"]] == [
        ("gold", event_id, "q4 review"),
        ("platinum", later.json()["event_id"], None),
    ]
    published = await read_topic(
        s.settings.kafka_bootstrap_servers or "", ACTIVITY_TOPIC, expect=2, keys={p.encode()}
    )
    assert [parse_event(r.value or b"").id for r in published] == [
        event_id,
        later.json()["event_id"],
    ]
    c = Customer(f"c-{p}", p)
    await s.produce([c.created(at(3, 1), "1000.00")])
    await s.wait_entries(p, 1)
    (entry,) = await entries(s, p)
    assert entry["amount"] == "720.00"  # 600 × gold 1.2
    assert entry["inputs"]["tier"] == "gold"


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        # found by the fuzzer: each was a 500 (an event the contract refuses; a date overflow)
        (
            "/v1/admin/incentives/partners/p/tier",
            "PUT",
            {"tier": "gold", "effective_at": "0117-04-01T00:00:00Z"},
            "effective_at",
        ),
        ("/v1/admin/incentives/partners/p/tier", "PUT", {"tier": "t" * 129}, "tier"),
        (
            "/v1/admin/incentives/what-if",
            "POST",
            {
                "program_version": "v",
                "from": "2027-01-01T00:00:00Z",
                "to": "0001-01-01T00:00:00+00:09",
            },
            "to",
        ),
        (
            "/v1/admin/incentives/recalculations",
            "POST",
            {"program_version": "v", "from": "2027-01-01T00:00:00Z", "to": "2200-01-01T00:00:00Z"},
            "to",
        ),
    ],
)
async def test_times_and_names_outside_the_event_bounds_are_a_422_naming_the_field(
    shared_service: Service, path: str, method: str, body: dict[str, Any], field: str
) -> None:
    s = shared_service
    response = await s.client.request(method, path, json=body, headers=s.auth())
    assert response.status_code == 422, response.text
    assert [d["loc"] for d in response.json()["detail"]] == [["body", field]]


async def test_a_tier_the_program_in_force_does_not_name_is_a_422_listing_its_tiers(
    shared_service: Service,
) -> None:
    s, p = shared_service, f"pt-{uuid.uuid4().hex[:6]}"
    response = await s.client.put(
        f"/v1/admin/incentives/partners/{p}/tier", json={"tier": "diamond"}, headers=s.auth()
    )
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "tier"]
    tiers = default_program().accelerators.tiers
    assert all(name in problem["msg"] for name in tiers)
    seen = (await s.client.get(f"/v1/incentives/partners/{p}/tier", headers=s.auth())).json()
    assert seen["changes"] == []  # nothing was emitted


async def test_a_tier_for_a_partner_id_no_event_can_carry_is_a_422(
    shared_service: Service,
) -> None:
    s = shared_service
    response = await s.client.put(
        f"/v1/admin/incentives/partners/{'p' * 129}/tier", json={"tier": "gold"}, headers=s.auth()
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "partner_id"]


async def test_programs_upload_validate_and_activate(shared_service: Service) -> None:
    s = shared_service
    admin = s.auth() | {"content-type": "application/yaml"}
    broken = default_program_text().replace('rate: "0.05"', 'rate: "5"')
    response = await s.client.post(
        "/v1/admin/incentives/programs/validate", content=broken, headers=admin
    )
    assert response.json()["valid"] is False
    problem = response.json()["problems"][0]
    assert problem["loc"] == ["rules", "new_logo", "rate"]
    assert problem["line"] == 15
    response = await s.client.post("/v1/admin/incentives/programs", content=broken, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["line"] == 15
    impossible = default_program_text().replace(
        "effective_from: 2020-01-01", "effective_from: 2020-13-01"
    )
    response = await s.client.post(
        "/v1/admin/incentives/programs", content=impossible, headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "effective_from"]
    version = f"v-{uuid.uuid4().hex[:6]}"
    good = (
        default_program_text()
        .replace('version: "default-2026.1"', f'version: "{version}"')
        .replace("effective_from: 2020-01-01", "effective_from: 2031-01-01")
    )
    response = await s.client.post("/v1/admin/incentives/programs", content=good, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["activated_at"] is None
    again = await s.client.post("/v1/admin/incentives/programs", content=good, headers=admin)
    assert again.status_code == 409
    active = (await s.client.get("/v1/admin/incentives/programs/active", headers=s.auth())).json()
    assert active["version"] == "default-2026.1"
    activated = await s.client.post(
        f"/v1/admin/incentives/programs/{version}/activate", headers=s.auth()
    )
    assert activated.json()["activated_at"] is not None
    assert activated.json()["in_force"] is False  # from 2031 on
    listed = (await s.client.get("/v1/admin/incentives/programs", headers=s.auth())).json()["items"]
    assert {v["version"] for v in listed} >= {"default-2026.1", version}
    missing = await s.client.get("/v1/admin/incentives/programs/nope", headers=s.auth())
    assert missing.status_code == 404


async def test_what_if_writes_nothing_and_recalculation_adds_only_adjustments_once(
    service: Service,
) -> None:
    s, p = service, "p-recalc"
    a, b = Customer("c-a", p), Customer("c-b", p)
    await s.produce(
        [
            a.created(at(2, 1), "1000.00"),
            b.created(at(3, 1), "2000.00"),
            b.expanded(at(3, 20), "2500.00"),
        ]
    )
    await s.wait_entries(p, 3)
    admin = s.auth() | {"content-type": "application/yaml"}
    fixed = (
        default_program_text()
        .replace('version: "default-2026.1"', 'version: "fix-1"')
        .replace('rate: "0.05"', 'rate: "0.06"')
    )
    assert (
        await s.client.post("/v1/admin/incentives/programs", content=fixed, headers=admin)
    ).status_code == 201
    span = {"from": "2027-01-01T00:00:00Z", "to": "2027-03-15T00:00:00Z"}
    before = await s.scalar("SELECT count(*) FROM entries")

    same = await s.client.post(
        "/v1/admin/incentives/what-if",
        json={**span, "program_version": "default-2026.1"},
        headers=s.auth(),
    )
    assert same.status_code == 200, same.text
    assert all(Decimal(r["difference"]) == 0 for r in same.json()["rows"])
    answer = (
        await s.client.post(
            "/v1/admin/incentives/what-if",
            json={**span, "program_version": "fix-1"},
            headers=s.auth(),
        )
    ).json()
    rows = {(r["partner_id"], r["rule"]): r for r in answer["rows"]}
    assert (rows[(p, "new_logo")]["actual"], rows[(p, "new_logo")]["what_if"]) == (
        "1800.00",
        "2160.00",
    )
    assert await s.scalar("SELECT count(*) FROM entries") == before  # wrote nothing

    run = await s.client.post(
        "/v1/admin/incentives/recalculations",
        json={**span, "program_version": "fix-1"},
        headers=s.auth(),
    )
    assert run.status_code == 200, run.text
    adjustments = run.json()["adjustments"]
    assert sorted(x["amount"] for x in adjustments) == ["120.00", "240.00"]  # 720−600, 1440−1200
    assert run.json()["period"] == "2027-06"
    originals = {
        r.entry_id for r in await s.entries() if r.kind == "accrual" and r.rule == "new_logo"
    }
    assert {x["adjusts_entry_id"] for x in adjustments} == originals
    kinds = await s.rows("SELECT kind, period FROM entries WHERE seq > 3 ORDER BY seq")
    assert [(k.kind, k.period) for k in kinds] == [
        ("adjustment", "2027-06"),
        ("adjustment", "2027-06"),
    ]
    second = await s.client.post(
        "/v1/admin/incentives/recalculations",
        json={**span, "program_version": "fix-1"},
        headers=s.auth(),
    )
    assert second.json()["adjustments"] == []
    assert await s.scalar("SELECT count(*) FROM entries") == before + 2
    reversed_span = await s.client.post(
        "/v1/admin/incentives/what-if",
        json={
            "from": "2027-03-15T00:00:00Z",
            "to": "2027-01-01T00:00:00Z",
            "program_version": "fix-1",
        },
        headers=s.auth(),
    )
    assert reversed_span.status_code == 422
    assert reversed_span.json()["detail"][0]["loc"] == ["body", "from"]


async def test_a_recalculation_appends_an_entry_the_ledger_never_had_as_itself_once(
    service: Service,
) -> None:
    """First value 70 days after the start earns nothing by default (30 days, or 60 for the
    late amount); a program with 40 days (late: 80) gives the late amount, 200.00."""
    s, p = service, "p-recalc-new"
    c = Customer("c-new", p)
    await s.produce([c.created(at(2, 1), "1000.00"), c.milestone(at(4, 12), "first_value")])
    await s.wait_processed(2)
    assert [e.rule for e in await s.entries()] == ["new_logo"]
    longer = (
        default_program_text()
        .replace('version: "default-2026.1"', 'version: "longer-1"')
        .replace("within_days: 30", "within_days: 40")
    )
    yaml = s.auth() | {"content-type": "application/yaml"}
    created = await s.client.post("/v1/admin/incentives/programs", content=longer, headers=yaml)
    assert created.status_code == 201, created.text
    span = {"from": "2027-04-01T00:00:00Z", "to": "2027-05-01T00:00:00Z"}
    run = await s.client.post(
        "/v1/admin/incentives/recalculations",
        json={**span, "program_version": "longer-1"},
        headers=s.auth(),
    )
    assert run.status_code == 200, run.text
    (added,) = run.json()["adjustments"]
    assert (added["rule"], added["amount"], added["adjusts_entry_id"]) == (
        "implementation_bonus",
        "200.00",
        None,
    )
    seen = await s.client.get(
        f"/v1/incentives/partners/{p}/entries/{added['entry_id']}", headers=s.auth("partner", p)
    )
    assert seen.status_code == 200, seen.text
    assert (seen.json()["kind"], seen.json()["period"]) == ("accrual", "2027-06")
    again = await s.client.post(
        "/v1/admin/incentives/recalculations",
        json={**span, "program_version": "longer-1"},
        headers=s.auth(),
    )
    assert again.json()["adjustments"] == []
    assert len(await s.entries()) == 2


async def test_a_recalculation_is_cut_by_the_cap_of_the_month_it_adjusts(
    service: Service,
) -> None:
    """The range [Mar 1, Mar 15) is re-run with a 6% new-logo rate and a 1,850 USD cap, while
    March also holds a new logo of Mar 20 (outside the range, 1,200). The replay only sees
    a's, 600 → 720: +120 in principle, but March already earned 1,800 of its 1,850."""
    s, p = service, "p-recalc-cap"
    a, b = Customer("c-a", p), Customer("c-b", p)
    await s.produce([a.created(at(3, 2), "1000.00"), b.created(at(3, 20), "2000.00")])
    await s.wait_entries(p, 2)
    fixed = (
        default_program_text()
        .replace('version: "default-2026.1"', 'version: "fix-cap"')
        .replace('rate: "0.05"', 'rate: "0.06"')
        .replace('USD: "250000.00"', 'USD: "1850.00"')
    )
    admin = s.auth() | {"content-type": "application/yaml"}
    uploaded = await s.client.post("/v1/admin/incentives/programs", content=fixed, headers=admin)
    assert uploaded.status_code == 201, uploaded.text
    span = {
        "from": "2027-03-01T00:00:00Z",
        "to": "2027-03-15T00:00:00Z",
        "program_version": "fix-cap",
    }
    run = await s.client.post("/v1/admin/incentives/recalculations", json=span, headers=s.auth())
    assert run.status_code == 200, run.text
    assert [x["amount"] for x in run.json()["adjustments"]] == ["50.00"]
    (adjustment,) = [r for r in await s.entries() if r.kind == "adjustment"]
    assert (adjustment.earned_period, adjustment.period) == ("2027-03", "2027-06")
    assert adjustment.inputs["capped"] == "true"
    assert adjustment.inputs["uncapped"] == "120.00"
    again = await s.client.post("/v1/admin/incentives/recalculations", json=span, headers=s.auth())
    assert again.json()["adjustments"] == []  # March is at its cap: nothing more to add
    assert await s.scalar("SELECT count(*) FROM entries") == 3
