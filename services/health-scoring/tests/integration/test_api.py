"""The REST routes on real data: partner scoping on every route, paging, summary, overrides."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from fourfold.events import Money, SubscriptionCancelled
from fourfold.health.queries import encode_cursor
from fourfold.health.schemas import SortKey, SortOrder
from fourfold.testing.errors import error_of

if TYPE_CHECKING:
    from conftest import Make, Service

pytestmark = pytest.mark.integration

HIDDEN = {"error": "not_found", "detail": "customer not found"}


@pytest.fixture
async def book(service: Service, make: Make, unique: str) -> dict[str, str]:
    """Partner A with three customers, partner B with one, one customer with no partner yet."""
    ids = {
        "A": f"pa-{unique}",
        "B": f"pb-{unique}",
        "a1": f"a1-{unique}",
        "a2": f"a2-{unique}",
        "a3": f"a3-{unique}",
        "b1": f"b1-{unique}",
        "orphan": f"n1-{unique}",
    }
    now = service.clock.now()
    events = [
        *make.healthy(ids["a1"], ids["A"]),
        make.created(ids["a2"], ids["A"], mrr="50.00"),
        make.payment_failed(ids["a2"], "inv-1", now - timedelta(days=3)),
        make.payment_failed(ids["a2"], "inv-2", now - timedelta(days=2)),
        *make.healthy(ids["a3"], ids["A"]),
        make.created(ids["a3"], ids["A"], mrr="300.00"),
        *make.healthy(ids["b1"], ids["B"]),
        *make.daily_users(ids["orphan"], 3, range(1, 4)),
    ]
    await service.produce(events)
    await service.settled(len(events))
    return ids


def routes(ids: dict[str, str]) -> list[str]:
    """Every partner-facing route, pointed at partner A's data."""
    return [
        f"/v1/customers/{ids['a1']}/health",
        f"/v1/customers/{ids['a1']}/health/history",
        f"/v1/partners/{ids['A']}/customers",
        f"/v1/partners/{ids['A']}/summary",
    ]


async def test_every_partner_route_is_scoped(service: Service, book: dict[str, str]) -> None:
    client = service.client
    for path in routes(book):
        assert (await client.get(path)).status_code == 401, path
        unauthenticated = (await client.get(path)).json()
        assert unauthenticated["error"] == "unauthenticated", path
        other = await client.get(path, headers=service.auth("partner", book["B"]))
        assert other.status_code == 404, path
        own = await client.get(path, headers=service.auth("partner", book["A"]))
        assert own.status_code == 200, (path, own.text)
        assert (await client.get(path, headers=service.auth("admin"))).status_code == 200, path
        assert (await client.get(path, headers=service.auth("ingest"))).status_code == 403, path

    partner_a = service.auth("partner", book["A"])
    for customer in (book["b1"], book["orphan"], "does-not-exist"):
        for suffix in ("/health", "/health/history"):
            hidden = await client.get(f"/v1/customers/{customer}{suffix}", headers=partner_a)
            assert (hidden.status_code, error_of(hidden)) == (404, HIDDEN), "hidden looks missing"
    orphan = await client.get(f"/v1/customers/{book['orphan']}/health", headers=service.auth())
    assert orphan.json()["partner_id"] is None


async def test_admin_routes_refuse_partners(service: Service, book: dict[str, str]) -> None:
    client = service.client
    override = f"/v1/admin/health/{book['a1']}/override"
    body = {"score": 10, "reason": "r", "expires_at": "2030-01-01T00:00:00Z"}
    calls = [
        ("PUT", override, body),
        ("DELETE", override, None),
        ("GET", "/v1/admin/scorecard", None),
    ]
    for method, path, json in calls:
        for headers, status in (
            ({}, 401),
            (service.auth("partner", book["A"]), 403),
            (service.auth("ingest"), 403),
        ):
            response = await client.request(method, path, json=json, headers=headers)
            assert response.status_code == status, (method, path, response.text)
            assert set(error_of(response)) == {"error", "detail"}
    scorecard = await service.get("/v1/admin/scorecard")
    assert scorecard["version"] == "default-2025.1"
    assert scorecard["source"] == "default"
    assert scorecard["scorecard"]["bands"] == {"red_below": 40, "green_from": 70}


async def test_book_filters_sorts_and_pages(service: Service, book: dict[str, str]) -> None:
    path = f"/v1/partners/{book['A']}/customers"
    everyone = await service.get(path, sort="arr", order="desc")
    assert [c["customer_id"] for c in everyone["items"]] == [book["a3"], book["a1"], book["a2"]]
    assert everyone["items"][0]["arr"] == {"amount": "3600.00", "currency": "EUR"}
    assert everyone["next_cursor"] is None

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"sort": "score", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = await service.get(path, **params)
        seen += [c["customer_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3
    assert set(seen) == {book["a1"], book["a2"], book["a3"]}
    scores = [(await service.get(f"/v1/customers/{c}/health"))["score"] for c in seen]
    assert scores == sorted(scores, key=lambda s: -1 if s is None else s)

    green = await service.get(path, band="green", step="improve")
    assert {c["customer_id"] for c in green["items"]} == {book["a1"], book["a3"]}
    assert all(c["band"] == "green" for c in green["items"])

    first = await service.get(path, sort="score", limit=1)
    wrong = await service.client.get(
        path,
        params={"sort": "arr", "limit": 1, "cursor": first["next_cursor"]},
        headers=service.auth(),
    )
    assert wrong.status_code == 400
    assert wrong.json()["detail"][0]["loc"] == ["query", "cursor"]
    junk = await service.client.get(path, params={"cursor": "!!"}, headers=service.auth())
    assert (junk.status_code, junk.json()["error"]) == (400, "invalid_cursor")
    bad = await service.client.get(path, params={"sort": "name"}, headers=service.auth())
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "sort"]


async def test_book_lists_lowest_scores_first_by_default(
    service: Service, book: dict[str, str]
) -> None:
    path = f"/v1/partners/{book['A']}/customers"
    default = await service.get(path)
    listed = [(c["score"], c["customer_id"]) for c in default["items"]]
    assert listed == sorted(listed, key=lambda item: (-1 if item[0] is None else item[0], item[1]))
    assert default == await service.get(path, sort="score", order="asc")
    openapi = (await service.client.get("/openapi.json")).json()
    described = openapi["paths"]["/v1/partners/{partner_id}/customers"]["get"]["description"]
    assert "Default order: score ascending" in described


async def test_money_reads_the_same_everywhere_and_inputs_keep_their_types(
    service: Service, book: dict[str, str]
) -> None:
    """ARR in the currency's minor unit in the book, the summary and a customer's health;
    a component's flag is a JSON boolean and its counts are numbers."""
    entries = (await service.get(f"/v1/partners/{book['A']}/customers"))["items"]
    in_book = next(e["arr"] for e in entries if e["customer_id"] == book["a1"])
    health = await service.get(f"/v1/customers/{book['a1']}/health")
    assert in_book == health["signals"]["arr"] == {"amount": "1200.00", "currency": "EUR"}
    failing = await service.get(f"/v1/customers/{book['a2']}/health")
    payment = next(c for c in failing["components"] if c["name"] == "payment")
    assert payment["inputs"] == {"failed_invoices": 2, "past_due": True}


async def test_summary_counts_customers_and_arr_per_band_and_step(
    service: Service, book: dict[str, str]
) -> None:
    summary = await service.get(f"/v1/partners/{book['A']}/summary")
    healths = {c: await service.get(f"/v1/customers/{book[c]}/health") for c in ("a1", "a2", "a3")}
    arr = {"a1": Decimal(1200), "a2": Decimal(600), "a3": Decimal(3600)}
    assert summary["customers"] == 3
    assert summary["arr"] == [{"amount": "5400.00", "currency": "EUR"}]
    assert sum(g["customers"] for g in summary["by_band"].values()) == 3
    assert sum(g["customers"] for g in summary["by_step"].values()) == 3
    green = [c for c, h in healths.items() if h["band"] == "green"]
    assert summary["by_band"]["green"]["customers"] == len(green)
    weighted = sum(arr[c] * healths[c]["score"] for c in arr) / sum(arr.values())
    assert summary["arr_weighted_average_score"]["EUR"] == pytest.approx(float(weighted), abs=0.01)
    empty = await service.get(f"/v1/partners/nobody-{book['A']}/summary")
    assert empty["customers"] == 0
    assert empty["arr_weighted_average_score"] == {}


async def test_override_shows_in_health_history_and_topic(
    service: Service, book: dict[str, str]
) -> None:
    customer = book["a1"]
    path = f"/v1/admin/health/{customer}/override"
    computed = await service.get(f"/v1/customers/{customer}/health")
    expires = (service.clock.now() + timedelta(days=7)).isoformat()
    body = {"score": 12, "reason": "churn call with the CFO", "expires_at": expires}
    put = await service.client.put(path, json=body, headers=service.auth())
    assert put.status_code == 200, put.text
    assert (put.json()["score"], put.json()["band"]) == (12, "red")
    assert put.json()["computed_score"] == computed["score"]

    shown = await service.get(f"/v1/customers/{customer}/health")
    assert shown["override"]["reason"] == "churn call with the CFO"
    assert shown["override"]["set_by"] == "test-admin"
    history = await service.get(f"/v1/customers/{customer}/health/history")
    assert history["points"][-1]["cause"] == "override"
    assert history["points"][-1]["override"]["score"] == 12
    await service.settled(await service.processed())
    version = await service.scalar(
        "SELECT version FROM customers WHERE customer_id = :c", c=customer
    )
    published = await service.health_events(customer, expect=version)
    assert any(e.data.score == 12 and e.data.band.value == "red" for e in published)

    deleted = await service.client.delete(path, headers=service.auth())
    assert deleted.status_code == 204
    back = await service.get(f"/v1/customers/{customer}/health")
    assert (back["score"], back["override"]) == (computed["score"], None)
    again = await service.client.delete(path, headers=service.auth())
    assert (again.status_code, again.json()["detail"]) == (404, "override not found")


async def test_override_and_history_validation_names_the_field(
    service: Service, book: dict[str, str]
) -> None:
    path = f"/v1/admin/health/{book['a1']}/override"
    future = (service.clock.now() + timedelta(days=1)).isoformat()
    cases = [
        ({"reason": "x", "expires_at": future}, ["body", "score"]),
        ({"score": 101, "reason": "x", "expires_at": future}, ["body", "score"]),
        ({"band": "purple", "reason": "x", "expires_at": future}, ["body", "band"]),
        ({"score": 5, "reason": "x", "expires_at": "2020-01-01T00:00:00Z"}, ["body", "expires_at"]),
        ({"score": 5, "expires_at": future}, ["body", "reason"]),
        ({"score": 5, "reason": "  ", "expires_at": future}, ["body", "reason"]),
    ]
    for body, loc in cases:
        response = await service.client.put(path, json=body, headers=service.auth())
        assert response.status_code == 422, body
        assert response.json()["error"] == "validation_failed"
        assert response.json()["detail"][0]["loc"][:2] == loc, response.json()
    missing = await service.client.put(
        "/v1/admin/health/nobody/override",
        json={"score": 5, "reason": "x", "expires_at": future},
        headers=service.auth(),
    )
    assert (missing.status_code, error_of(missing)) == (404, HIDDEN)

    history = f"/v1/customers/{book['a1']}/health/history"
    reversed_range = await service.client.get(
        history,
        params={"from": "2026-06-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"},
        headers=service.auth(),
    )
    assert reversed_range.status_code == 422
    assert reversed_range.json()["detail"][0]["loc"] == ["query", "from"]
    ranged = await service.get(
        history, **{"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    )
    assert ranged["points"] == []


async def test_history_range_keeps_the_points_inside_and_drops_the_others(
    service: Service, book: dict[str, str]
) -> None:
    customer = book["a1"]
    first = service.clock.now()
    body = {"score": 40, "reason": "range test"}
    for _ in range(2):  # an override records a history point at the clock's time
        service.clock.advance(timedelta(days=1))
        body["expires_at"] = (service.clock.now() + timedelta(days=7)).isoformat()
        put = await service.client.put(
            f"/v1/admin/health/{customer}/override", json=body, headers=service.auth()
        )
        assert put.status_code == 200, put.text
    path = f"/v1/customers/{customer}/health/history"
    everything = await service.get(
        path,
        **{
            "from": (first - timedelta(days=1)).isoformat(),
            "to": service.clock.now().isoformat(),
        },
    )
    times = {point["at"] for point in everything["points"]}
    day1, day2 = first + timedelta(days=1), first + timedelta(days=2)
    assert {first, day1, day2} <= {_instant(at) for at in times}
    middle = await service.get(
        path,
        **{
            "from": (first + timedelta(hours=12)).isoformat(),
            "to": (day1 + timedelta(hours=12)).isoformat(),
        },
    )
    assert [_instant(p["at"]) for p in middle["points"]] == [day1]
    assert middle["points"][0]["cause"] == "override"
    edges = await service.get(path, **{"from": day1.isoformat(), "to": day2.isoformat()})
    assert [_instant(p["at"]) for p in edges["points"]] == [day1, day2], "bounds are inclusive"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_out_of_range_history_bounds_answer_422_naming_the_field(
    service: Service, book: dict[str, str]
) -> None:
    history = f"/v1/customers/{book['a1']}/health/history"
    cases = [
        ({"to": "0001-01-02T00:00:00Z"}, "to"),
        ({"from": "0001-01-01T00:00:00+05:00"}, "from"),
        ({"to": "9999-12-31T23:00:00-05:00"}, "to"),
    ]
    for params, field in cases:
        response = await service.client.get(history, params=params, headers=service.auth())
        assert response.status_code == 422, (params, response.text)
        assert response.json()["detail"][0]["loc"] == ["query", field], response.json()


async def test_a_crafted_cursor_value_answers_400_naming_the_cursor(
    service: Service, book: dict[str, str]
) -> None:
    book_path = f"/v1/partners/{book['A']}/customers"
    for value in ("1E+999999999", "1E-999999999", "NaN", "Infinity", "-1E+40"):
        cursor = encode_cursor(SortKey.ARR, SortOrder.DESC, Decimal(value), book["a1"])
        response = await service.client.get(
            book_path,
            params={"sort": "arr", "order": "desc", "cursor": cursor},
            headers=service.auth(),
        )
        assert response.status_code == 400, (value, response.text)
        assert response.json()["error"] == "invalid_cursor"
        assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_book_sorts_arr_by_currency_then_amount(
    service: Service, make: Make, unique: str
) -> None:
    """ARR in different currencies is never compared as one number: customers group by
    currency (no ARR sorts lowest), amounts order within a currency; paging keeps that."""
    partner = f"pc-{unique}"

    def created(customer: str, mrr: str, currency: str) -> Any:
        event = make.created(customer, partner, mrr=mrr)
        money = Money(amount=Decimal(mrr), currency=currency)
        return event.model_copy(update={"data": event.data.model_copy(update={"mrr": money})})

    cancelled = SubscriptionCancelled.model_validate(
        {
            "id": f"cancel-{unique}",
            "source": "test/health",
            "type": "subscription.cancelled",
            "time": service.clock.now(),
            "data": {
                "subscription_id": "s-none",
                "customer_id": f"none-{unique}",
                "partner_id": partner,
                "effective_date": service.clock.now().date(),
            },
        }
    )
    events = [
        created(f"e1-{unique}", "100.00", "EUR"),
        created(f"e2-{unique}", "300.00", "EUR"),
        created(f"u1-{unique}", "200.00", "USD"),
        created(f"u2-{unique}", "50.00", "USD"),
        cancelled,
    ]
    await service.produce(events)
    await service.settled(len(events))
    expected = [f"u1-{unique}", f"u2-{unique}", f"e2-{unique}", f"e1-{unique}", f"none-{unique}"]
    path = f"/v1/partners/{partner}/customers"
    for order, want in (("desc", expected), ("asc", expected[::-1])):
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"sort": "arr", "order": order, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = await service.get(path, **params)
            seen += [c["customer_id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == want, order
