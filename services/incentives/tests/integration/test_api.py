"""The partner and admin routes on the real app, broker and PostgreSQL.

The book (priced by hand from the default program: new_logo 5% of first-year ARR,
implementation 500 USD, upsell 10% of ARR added, hold 30 days; the clock reads 2027-06-15):

- partner A, customer USD: created 2027-01-10 at 1,000/month → new_logo 600.00 (January);
  first_value 2027-01-20 → implementation_bonus 500.00 (January); expanded 2027-02-15 to
  1,500 → upsell 600.00 (February);
- partner A, customer JPY: created 2027-02-01 at 100,000/month → new_logo 60,000 (February);
- partner B, customer USD: created 2027-01-12 at 500/month → new_logo 300.00 (January).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from fourfold.incentives.samples import Customer

if TYPE_CHECKING:
    from conftest import Service

pytestmark = pytest.mark.integration


def at(month: int, day: int) -> datetime:
    return datetime(2027, month, day, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
async def book(shared_service: Service) -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    a, b = f"pa-{tag}", f"pb-{tag}"
    usd, jpy, other = (
        Customer(f"ca-{tag}", a),
        Customer(f"cj-{tag}", a, "JPY"),
        Customer(f"cb-{tag}", b),
    )
    await shared_service.produce(
        [
            usd.created(at(1, 10), "1000.00"),
            usd.milestone(at(1, 20), "first_value"),
            usd.expanded(at(2, 15), "1500.00"),
            jpy.created(at(2, 1), "100000"),
            other.created(at(1, 12), "500.00"),
        ]
    )
    await shared_service.wait_entries(a, 4)
    await shared_service.wait_entries(b, 1)
    entry_a = await shared_service.scalar(
        "SELECT entry_id FROM entries WHERE partner_id = :p ORDER BY seq LIMIT 1", p=a
    )
    return {"a": a, "b": b, "usd": usd.customer_id, "jpy": jpy.customer_id, "entry_a": entry_a}


PARTNER_ROUTES = [
    ("GET", "/v1/incentives/partners/{a}/entries", None),
    ("GET", "/v1/incentives/partners/{a}/entries/{entry_a}", None),
    ("GET", "/v1/incentives/partners/{a}/balance", None),
    ("GET", "/v1/incentives/partners/{a}/tier", None),
    ("GET", "/v1/incentives/partners/{a}/statements", None),
    ("GET", "/v1/incentives/partners/{a}/statements/2027-01", None),
    ("GET", "/v1/incentives/partners/{a}/statements/2027-01.csv", None),
    ("GET", "/v1/incentives/partners/{a}/disputes", None),
    ("POST", "/v1/incentives/partners/{a}/disputes", {"entry_id": "{entry_a}", "comment": "why?"}),
    ("GET", "/v1/incentives/partners/{a}/disputes/{dispute}", None),
    ("POST", "/v1/incentives/partners/{a}/disputes/{dispute}/comments", {"comment": "hello"}),
]


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body"), PARTNER_ROUTES, ids=lambda v: str(v))
async def test_another_partners_token_gets_404_on_every_partner_route(
    shared_service: Service, book: dict[str, str], method: str, path: str, body: Any
) -> None:
    s = shared_service
    opened = await s.client.post(
        f"/v1/incentives/partners/{book['a']}/disputes",
        json={"entry_id": book["entry_a"], "comment": "setup"},
        headers=s.auth("partner", book["a"]),
    )
    assert opened.status_code == 201, opened.text
    names = {**book, "dispute": opened.json()["dispute_id"]}
    url, payload = _fill(path, names), _fill(body, names)
    own = await s.client.request(method, url, json=payload, headers=s.auth("partner", book["a"]))
    assert own.status_code in (200, 201), own.text
    other = await s.client.request(method, url, json=payload, headers=s.auth("partner", book["b"]))
    assert other.status_code == 404, other.text
    assert other.json()["error"] == "not_found"
    # B's own path with A's ids (entry, dispute) answers 404 as well
    if "{entry_a}" in path or "{dispute}" in path:
        crossed = _fill(path.replace("{a}", "{b}"), names)
        hidden = await s.client.request(
            method, crossed, json=payload, headers=s.auth("partner", book["b"])
        )
        assert hidden.status_code == 404, hidden.text
    if method == "POST" and path.endswith("/disputes"):
        hidden = await s.client.post(
            f"/v1/incentives/partners/{book['b']}/disputes",
            json={"entry_id": book["entry_a"], "comment": "mine?"},
            headers=s.auth("partner", book["b"]),
        )
        assert hidden.status_code == 404, hidden.text


async def test_entries_filter_and_page_by_keyset(
    shared_service: Service, book: dict[str, str]
) -> None:
    s, a = shared_service, book["a"]
    headers = s.auth("partner", a)
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (
            await s.client.get(
                f"/v1/incentives/partners/{a}/entries", params=params, headers=headers
            )
        ).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len({e["entry_id"] for e in seen}) == 4  # each once, in ledger order
    assert [e["entry_id"] for e in seen] == sorted(
        (e["entry_id"] for e in seen), key=[e["entry_id"] for e in seen].index
    )
    assert sorted((e["rule"], e["amount"], e["currency"]) for e in seen) == [
        ("implementation_bonus", "500.00", "USD"),
        ("new_logo", "600.00", "USD"),
        ("new_logo", "60000", "JPY"),
        ("upsell", "600.00", "USD"),
    ]
    assert all(e["status"] == "payable" for e in seen)  # past the 30-day hold on 2027-06-15

    async def rules(**params: Any) -> list[str]:
        response = await s.client.get(
            f"/v1/incentives/partners/{a}/entries", params=params, headers=headers
        )
        assert response.status_code == 200, response.text
        return sorted(e["rule"] + ":" + e["currency"] for e in response.json()["items"])

    assert await rules(period="2027-01") == ["implementation_bonus:USD", "new_logo:USD"]
    assert await rules(rule="new_logo") == ["new_logo:JPY", "new_logo:USD"]
    assert await rules(customer_id=book["jpy"]) == ["new_logo:JPY"]
    assert await rules(status="accrued") == []
    bad = await s.client.get(
        f"/v1/incentives/partners/{a}/entries", params={"cursor": "nope"}, headers=headers
    )
    assert bad.status_code == 400
    assert bad.json()["detail"][0]["loc"] == ["query", "cursor"]
    bad = await s.client.get(
        f"/v1/incentives/partners/{a}/entries", params={"period": "2027-13"}, headers=headers
    )
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "cursor",
    [
        "czo5OTk5OTk5OTk5OTk5OTk5OTk5OQ",  # s:99999999999999999999, past a bigint
        "czogMQ",  # "s: 1": int() would take it
        "czox4LGm",  # "s:1" and a Telugu digit zero: int() reads 10
    ],
)
async def test_a_cursor_that_is_not_ours_is_a_400_not_a_driver_error(
    shared_service: Service, book: dict[str, str], cursor: str
) -> None:
    s, a = shared_service, book["a"]
    bad = await s.client.get(
        f"/v1/incentives/partners/{a}/entries",
        params={"cursor": cursor},
        headers=s.auth("partner", a),
    )
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"] == "invalid_cursor"


@pytest.mark.parametrize("comment", ["nul \u0000 inside", "lone \ud800 surrogate"])
async def test_an_unstorable_string_in_a_body_is_a_422_naming_the_field(
    shared_service: Service, book: dict[str, str], comment: str
) -> None:
    s, a = shared_service, book["a"]
    body = json.dumps({"entry_id": book["entry_a"], "comment": comment})  # \u escapes
    bad = await s.client.post(
        f"/v1/incentives/partners/{a}/disputes",
        content=body.encode(),
        headers={**s.auth("partner", a), "Content-Type": "application/json"},
    )
    assert bad.status_code == 422, bad.text
    assert [d["loc"] for d in bad.json()["detail"]] == [["body", "comment"]]


async def test_one_entry_shows_why(shared_service: Service, book: dict[str, str]) -> None:
    s, a = shared_service, book["a"]
    entry = (
        await s.client.get(
            f"/v1/incentives/partners/{a}/entries/{book['entry_a']}", headers=s.auth("partner", a)
        )
    ).json()
    assert entry["rule"] == "new_logo"
    assert entry["inputs"]["arr"] == "12000.00"
    assert entry["inputs"]["rate"] == "0.05"
    assert entry["program_version"] == "default-2026.1"
    assert entry["history"] == []


async def test_balance_and_statements_per_currency(
    shared_service: Service, book: dict[str, str]
) -> None:
    s, a = shared_service, book["a"]
    headers = s.auth("partner", a)
    balance = (await s.client.get(f"/v1/incentives/partners/{a}/balance", headers=headers)).json()
    lines = {line["currency"]: line for line in balance["currencies"]}
    assert lines["USD"] | {} == {
        "currency": "USD",
        "total": "1700.00",
        "paid": "0.00",
        "due": "1700.00",
        "held": "0.00",
        "payable": "1700.00",
    }
    assert lines["JPY"]["total"] == "60000"
    statements = (
        await s.client.get(f"/v1/incentives/partners/{a}/statements", headers=headers)
    ).json()
    assert [st["period"] for st in statements["items"]] == ["2027-01", "2027-02"]
    feb = (
        await s.client.get(f"/v1/incentives/partners/{a}/statements/2027-02", headers=headers)
    ).json()
    by_currency = {line["currency"]: line for line in feb["currencies"]}
    assert by_currency["USD"]["opening"] == "1100.00"
    assert by_currency["USD"]["earned"] == "600.00"
    assert by_currency["USD"]["closing"] == "1700.00"
    assert by_currency["JPY"]["opening"] == "0"
    assert by_currency["JPY"]["closing"] == "60000"
    assert feb["status"] == "open"
    assert feb["entries"] == 2
    missing = await s.client.get(f"/v1/incentives/partners/{a}/statements/2026-01", headers=headers)
    assert missing.status_code == 404

    response = await s.client.get(
        f"/v1/incentives/partners/{a}/statements/2027-01.csv", headers=headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted((r["rule"], r["amount"]) for r in rows) == [
        ("implementation_bonus", "500.00"),
        ("new_logo", "600.00"),
    ]


async def test_admin_routes_refuse_partner_tokens(
    shared_service: Service, book: dict[str, str]
) -> None:
    s = shared_service
    for method, path in [
        ("GET", "/v1/admin/incentives/programs"),
        ("POST", f"/v1/admin/incentives/entries/{book['entry_a']}/approve"),
        ("PUT", f"/v1/admin/incentives/partners/{book['a']}/tier"),
        ("POST", "/v1/admin/incentives/what-if"),
    ]:
        response = await s.client.request(
            method, path, json={}, headers=s.auth("partner", book["a"])
        )
        assert response.status_code == 403, (path, response.text)
        unauthenticated = await s.client.request(method, path, json={})
        assert unauthenticated.status_code == 401
