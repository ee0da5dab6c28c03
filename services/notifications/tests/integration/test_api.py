"""The REST routes on real data: partner scoping on every route, the feed's filters and
keyset pages, acknowledge / snooze / resolve, channels without secrets, admin routes."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from fourfold.notifications.domain.config import default_config_text
from fourfold.testing.errors import error_of

if TYPE_CHECKING:
    from conftest import Make, Service

pytestmark = pytest.mark.integration

HIDDEN = {"error": "not_found", "detail": "nudge not found"}


@pytest.fixture
async def book(service: Service, make: Make, unique: str) -> dict[str, Any]:
    """Partner A with three customers whose payments failed, partner B with one."""
    ids: dict[str, Any] = {"A": f"pa-{unique}", "B": f"pb-{unique}"}
    events = []
    for name, partner in (("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B")):
        ids[name] = f"{name}-{unique}"
        events += [make.created(ids[name], ids[partner]), make.payment_failed(ids[name], "in_1")]
        service.clock.advance(timedelta(seconds=1))
    await service.produce(events)
    await service.settled(len(events))
    response = await service.client.post(
        f"/v1/admin/notifications/partners/{ids['A']}/channels",
        json={"kind": "webhook", "target": "http://127.0.0.1:9/hook"},
        headers=service.auth(),
    )
    ids["channel"] = response.json()["channel_id"]
    rows = await service.rows(
        "SELECT nudge_id, customer_id FROM nudges WHERE customer_id = :c", c=ids["a1"]
    )
    ids["nudge"] = rows[0].nudge_id
    return ids


def partner_routes(ids: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every partner-facing route, pointed at partner A's data."""
    soon = "2099-01-01T00:00:00Z"
    return [
        ("GET", f"/v1/nudges?partner_id={ids['A']}", None),
        ("GET", f"/v1/nudges/{ids['nudge']}", None),
        ("POST", f"/v1/nudges/{ids['nudge']}/acknowledge", None),
        ("POST", f"/v1/nudges/{ids['nudge']}/snooze", {"until": soon}),
        ("GET", f"/v1/channels?partner_id={ids['A']}", None),
        ("POST", f"/v1/nudges/{ids['nudge']}/resolve", None),  # last: it closes the nudge
    ]


def admin_routes(ids: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        (
            "POST",
            f"/v1/admin/notifications/partners/{ids['A']}/channels",
            {"kind": "slack", "target": "https://hooks.example/x"},
        ),
        ("PATCH", f"/v1/admin/notifications/channels/{ids['channel']}", {"enabled": True}),
        ("POST", f"/v1/admin/notifications/channels/{ids['channel']}/rotate-secret", None),
        ("GET", "/v1/admin/notifications/rules", None),
        ("POST", "/v1/admin/notifications/rules/validate", {"yaml": "version: x"}),
        ("GET", "/v1/admin/notifications/deliveries", None),
        ("GET", "/v1/admin/notifications/dead-letters", None),
        ("POST", "/v1/admin/notifications/deliveries/msg_none/retry", None),
    ]


async def test_every_partner_route_is_scoped(service: Service, book: dict[str, Any]) -> None:
    client = service.client
    own, other = service.auth("partner", book["A"]), service.auth("partner", book["B"])
    for method, path, body in partner_routes(book):
        assert (await client.request(method, path, json=body)).status_code == 401, path
        hidden = await client.request(method, path, json=body, headers=other)
        assert hidden.status_code == 404, (path, hidden.text)
        assert (
            await client.request(method, path, json=body, headers=service.auth("ingest"))
        ).status_code == 403
        seen = await client.request(method, path, json=body, headers=own)
        assert seen.status_code == 200, (path, seen.text)
    for path in ("/v1/nudges", "/v1/channels"):  # a partner's own by default; admins name one
        assert (await client.get(path, headers=own)).status_code == 200
        unnamed = await client.get(path, headers=service.auth())
        assert (unnamed.status_code, unnamed.json()["detail"][0]["loc"]) == (
            422,
            ["query", "partner_id"],
        )
    missing = await client.get("/v1/nudges/ndg_missing", headers=own)
    hidden = await client.get(f"/v1/nudges/{book['nudge']}", headers=other)
    assert error_of(missing) == error_of(hidden) == HIDDEN  # hidden looks missing


async def test_admin_routes_refuse_partners(service: Service, book: dict[str, Any]) -> None:
    for method, path, body in admin_routes(book):
        for token in (service.auth("partner", book["A"]), service.auth("partner", book["B"])):
            refused = await service.client.request(method, path, json=body, headers=token)
            assert refused.status_code == 403, (path, refused.text)
        allowed = await service.client.request(method, path, json=body, headers=service.auth())
        assert allowed.status_code in (200, 201, 404, 422), (path, allowed.text)


async def test_the_feed_filters_and_pages_by_keyset(service: Service, book: dict[str, Any]) -> None:
    headers = service.auth("partner", book["A"])
    path = "/v1/nudges"
    everything = (await service.client.get(path, headers=headers)).json()["items"]
    assert {n["partner_id"] for n in everything} == {book["A"]}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await service.client.get(path, params=params, headers=headers)).json()
        seen += [n["nudge_id"] for n in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [n["nudge_id"] for n in everything]  # newest first, nothing twice
    assert len(seen) == len(set(seen)) == len(everything)
    raised = [n["raised_at"] for n in everything]
    assert raised == sorted(raised, reverse=True)

    by_rule = await service.client.get(path, params={"rule": "payment_failed"}, headers=headers)
    assert {n["rule"] for n in by_rule.json()["items"]} == {"payment_failed"}
    assert len(by_rule.json()["items"]) == 3
    one = await service.client.get(path, params={"customer_id": book["a2"]}, headers=headers)
    assert {n["customer_id"] for n in one.json()["items"]} == {book["a2"]}
    bad = await service.client.get(path, params={"rule": "nope"}, headers=headers)
    assert (bad.status_code, bad.json()["error"]) == (422, "validation_failed")
    assert bad.json()["detail"][0]["loc"] == ["query", "rule"]
    junk = await service.client.get(path, params={"cursor": "!!"}, headers=headers)
    assert (junk.status_code, junk.json()["error"]) == (400, "invalid_cursor")


async def test_acknowledge_snooze_resolve_and_come_back(
    service: Service, make: Make, book: dict[str, Any]
) -> None:
    headers = service.auth("partner", book["A"])
    nudge = book["nudge"]
    acked = await service.client.post(f"/v1/nudges/{nudge}/acknowledge", headers=headers)
    assert acked.json()["status"] == "acknowledged"
    until = service.clock.now() + timedelta(hours=1)
    snoozed = await service.client.post(
        f"/v1/nudges/{nudge}/snooze", json={"until": until.isoformat()}, headers=headers
    )
    assert (snoozed.json()["status"], snoozed.json()["snoozed_until"]) == (
        "snoozed",
        until.isoformat().replace("+00:00", "Z"),
    )
    past = await service.client.post(
        f"/v1/nudges/{nudge}/snooze",
        json={"until": service.clock.now().isoformat()},
        headers=headers,
    )
    assert (past.status_code, past.json()["detail"][0]["loc"]) == (422, ["body", "until"])

    service.clock.advance(timedelta(minutes=59))
    await service.tick()
    assert (await service.client.get(f"/v1/nudges/{nudge}", headers=headers)).json()[
        "status"
    ] == "snoozed"
    service.clock.advance(timedelta(minutes=1))
    await service.tick()  # the snooze is over and the payment still failed: back
    assert (await service.client.get(f"/v1/nudges/{nudge}", headers=headers)).json()[
        "status"
    ] == "open"

    resolved = await service.client.post(f"/v1/nudges/{nudge}/resolve", headers=headers)
    assert resolved.json()["status"] == "resolved"
    closed = await service.client.post(f"/v1/nudges/{nudge}/acknowledge", headers=headers)
    assert (closed.status_code, closed.json()["error"]) == (409, "nudge_closed")
    await service.tick()  # the condition still holds: not raised again
    assert [n.nudge_id for n in await service.nudges(book["a1"])] == [nudge]

    before = await service.processed()
    await service.produce([make.paid(book["a1"], "in_1")])  # the condition clears …
    await service.settled(before + 1)
    await service.produce([make.payment_failed(book["a1"], "in_2")])  # … and returns
    await service.settled(before + 2)
    again = await service.nudges(book["a1"])
    assert [(n.nudge_id == nudge, n.status) for n in again] == [(True, "resolved"), (False, "open")]
    detail = (await service.client.get(f"/v1/nudges/{again[1].nudge_id}", headers=headers)).json()
    assert [d["channel_id"] for d in detail["deliveries"]] == [book["channel"]]


async def test_channels_never_show_a_secret_again(service: Service, book: dict[str, Any]) -> None:
    listed = await service.client.get("/v1/channels", headers=service.auth("partner", book["A"]))
    [channel] = listed.json()
    assert channel["secrets_in_force"] == 1
    assert "secret" not in channel
    assert "whsec_" not in listed.text
    bad = await service.client.post(
        f"/v1/admin/notifications/partners/{book['A']}/channels",
        json={"kind": "webhook", "target": "ftp://x"},
        headers=service.auth(),
    )
    assert (bad.status_code, bad.json()["error"]) == (422, "validation_failed")
    assert bad.json()["detail"][0]["loc"] == ["body", "target"]


async def test_rules_read_and_validate(service: Service) -> None:
    active = (
        await service.client.get("/v1/admin/notifications/rules", headers=service.auth())
    ).json()
    assert active["config"]["rules"]["implement_stalled"]["min_age_days"] == 21
    ok = await service.client.post(
        "/v1/admin/notifications/rules/validate",
        json={"yaml": default_config_text()},
        headers=service.auth(),
    )
    assert ok.json() == {"valid": True, "version": active["version"]}
    broken = default_config_text().replace("{{ customer_id }} failed", "{{ customr }} failed")
    refused = await service.client.post(
        "/v1/admin/notifications/rules/validate", json={"yaml": broken}, headers=service.auth()
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == [
        "body",
        "yaml",
        "rules",
        "payment_failed",
        "title",
    ]


def _cursor(at: str, key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([at, key]).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("2026-01-01T00:00:00+00:00", "ndg_\u0000"),  # an id PostgreSQL cannot store
        _cursor("2026-01-01T00:00:00+00:00", "ndg_\ud800"),  # an unpaired surrogate
        _cursor("2026-01-01T00:00:00", "ndg_x"),  # no zone: not what we write
        _cursor("0001-01-01T00:00:00+05:00", "ndg_x"),  # before year 1 in UTC
        _cursor("2026-01-01T00:00:00+00:00", 7),  # not an id
    ],
)
async def test_a_hand_made_cursor_is_a_400(service: Service, cursor: str) -> None:
    for path, token in (
        ("/v1/nudges", service.auth("partner", "p-x")),
        ("/v1/admin/notifications/deliveries", service.auth()),
        ("/v1/admin/notifications/dead-letters", service.auth()),
    ):
        answer = await service.client.get(path, params={"cursor": cursor}, headers=token)
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_cursor"), path
        assert answer.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_bodies_and_paths_the_database_cannot_hold_name_the_field(
    service: Service, book: dict[str, Any]
) -> None:
    def refused(answer: Any, loc: list[str]) -> None:
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == loc

    admin = {**service.auth(), "content-type": "application/json"}
    channels = f"/v1/admin/notifications/partners/{book['A']}/channels"
    target = '{"kind": "slack", "target": "https://hooks.example/\\ud800"}'
    refused(await service.client.post(channels, content=target, headers=admin), ["body", "target"])
    rules = '{"yaml": "version: \\ud800"}'
    validate = "/v1/admin/notifications/rules/validate"
    refused(await service.client.post(validate, content=rules, headers=admin), ["body", "yaml"])
    too_long = f"/v1/admin/notifications/partners/{'p' * 129}/channels"
    body = {"kind": "slack", "target": "https://hooks.example/x"}
    refused(await service.client.post(too_long, json=body, headers=admin), ["path", "partner_id"])
    for far in ("9999-12-31T23:59:59-01:00", "2200-01-01T00:00:00Z"):  # beyond what we store
        snooze = await service.client.post(
            f"/v1/nudges/{book['nudge']}/snooze", json={"until": far}, headers=service.auth()
        )
        refused(snooze, ["body", "until"])
