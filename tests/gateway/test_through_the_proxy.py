"""The gateway as `make dev` runs it: Caddy (`fourfold.gateway.Gateway`, its Caddyfile made
from the route table) on loopback in front of real ingest, health-scoring, incentives and
notifications processes (`python -m fourfold.dev.serve`, as the dev stack starts them) on
the session's broker and PostgreSQL. Every request here goes through the real proxy."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fourfold.auth import Role, issue_token
from fourfold.dev.openapi import COMBINED, combined_openapi
from fourfold.dev.stack import SERVICES, ServiceSpec, _ready, _service_process
from fourfold.gateway import ROUTES, Gateway, write_public_docs
from fourfold.infra.process import ServerProcess, free_port
from fourfold.settings import FourfoldSettings
from fourfold.testing.errors import error_of
from fourfold.testing.fixtures import drop_schemas
from fourfold.testing.samples import milestone_completed, subscription_created

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SECRET = "gateway-test-secret-gateway-test-secret-01"
PARTNER_LIMIT = 20
"""Partner requests per minute in these services (the 429 test exhausts a bucket)."""
RUNNING = ("ingest", "health-scoring", "incentives", "notifications")
GATEWAY_404 = "no such route at the gateway"
OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi"


@dataclass(frozen=True)
class Topology:
    gateway: str
    direct: dict[str, str]
    logs: dict[str, Path]

    def auth(self, role: Role, partner: str | None = None, subject: str = "") -> dict[str, str]:
        token = issue_token(
            secret=SECRET,
            issuer="fourfold",
            role=role,
            subject=subject or f"gw-{role}-{uuid.uuid4().hex[:8]}",
            partner_id=partner,
            now=datetime.now(UTC),
        )
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def topology(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    state_dir = tmp_path_factory.mktemp("gateway")
    tag = uuid.uuid4().hex[:8]
    schemas = {service: f"gw_{service.replace('-', '_')}_{tag}" for service in RUNNING}
    env = {
        "FOURFOLD_AUTH_SECRET": SECRET,
        "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "FOURFOLD_DATABASE_URL": database_url,
        "FOURFOLD_STATE_DIR": str(state_dir),
        "FOURFOLD_TOPIC_PARTITIONS": "3",
        "FOURFOLD_HEALTH_CONSUMER_GROUP": f"health-gw-{tag}",
        "FOURFOLD_INCENTIVES_CONSUMER_GROUP": f"incentives-gw-{tag}",
        "FOURFOLD_NOTIFICATIONS_CONSUMER_GROUP": f"notifications-gw-{tag}",
        "FOURFOLD_RATE_LIMIT_PARTNER_PER_MINUTE": str(PARTNER_LIMIT),
    }
    specs = [ServiceSpec(s.name, s.module, free_port()) for s in SERVICES if s.name in RUNNING]
    started: list[ServerProcess | Gateway] = []
    try:
        for spec in specs:
            service = _service_process(
                spec, {**env, "FOURFOLD_DATABASE_SCHEMA": schemas[spec.name]}, state_dir
            )
            started.append(service)
            service.start(ready=lambda spec=spec: _ready(spec), timeout=90)  # type: ignore[misc]
        # as make dev does: the gateway refuses what the services would, and serves the
        # combined document of what they serve
        served = {s.name: httpx.get(f"{s.url}/openapi.json").json() for s in specs}
        gateway = Gateway(
            state_dir,
            {spec.name: spec.url for spec in specs},
            max_body_bytes=FourfoldSettings().max_body_bytes,
            docs=write_public_docs(state_dir / "public", combined_openapi(served)),
        )
        started.append(gateway)
        gateway.start()
        logs = {spec.name: state_dir / "logs" / f"{spec.name}.log" for spec in specs}
        yield Topology(gateway.url, {spec.name: spec.url for spec in specs}, logs)
    finally:
        for server in reversed(started):
            server.stop()
        asyncio.run(drop_schemas(database_url, *schemas.values()))


def _operations() -> dict[str, list[tuple[str, str]]]:
    """service -> (method, path with its parameters filled in) of every public GET or
    DELETE, from the services' published OpenAPI documents (checked for drift)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for service in RUNNING:
        document = json.loads((OPENAPI / f"{service}.json").read_text(encoding="utf-8"))
        paths = document["paths"]
        out[service] = [
            (method.upper(), path.replace("{", "").replace("}", "-x"))
            for path, operations in paths.items()
            if path.startswith("/v1/")
            for method in operations
            if method in {"get", "delete"}
        ]
    return out


def _shape(body: Any) -> Any:
    """A JSON body without its values (an answer may carry the time it was made): its keys,
    nested, and its errors' codes."""
    if isinstance(body, dict):
        return {k: body[k] if k == "error" else _shape(v) for k, v in sorted(body.items())}
    if isinstance(body, list):
        return [_shape(item) for item in body]
    return type(body).__name__


async def test_every_public_route_prefix_reaches_its_service(topology: Topology) -> None:
    """Through the gateway, each operation under each prefix answers what its service
    answers directly, status and shape (and not the gateway's own 404)."""
    operations = _operations()
    admin = topology.auth("admin")
    async with httpx.AsyncClient(timeout=30, headers=admin) as http:
        for route in ROUTES:
            if route.service not in RUNNING:
                continue
            under = [
                (m, p)
                for m, p in operations[route.service]
                if p == route.prefix or p.startswith(route.prefix + "/")
            ]
            if not under:  # a prefix without a GET: a path below it still reaches the service
                under = [("GET", f"{route.prefix}/gateway-probe")]
            for method, path in under:
                via = await http.request(method, topology.gateway + path)
                direct = await http.request(method, topology.direct[route.service] + path)
                assert (via.status_code, _shape(via.json())) == (
                    direct.status_code,
                    _shape(direct.json()),
                ), (route, path)
                assert GATEWAY_404 not in via.text, path
                assert via.headers["x-request-id"], path


@pytest.mark.parametrize(
    "path",
    [
        *(r.prefix for r in ROUTES if r.service not in RUNNING),
        "/metrics",
        "/readyz",
        "/healthz",
        "/redoc",
        "/v1/eventsX",
        "/v2/events",
    ],
)
async def test_other_paths_and_routes_of_services_not_running_answer_404(
    topology: Topology, path: str
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.get(topology.gateway + path)
    assert answer.status_code == 404
    assert error_of(answer) == {"error": "not_found", "detail": GATEWAY_404}


async def test_the_gateway_serves_the_combined_public_api_and_its_docs(
    topology: Topology,
) -> None:
    committed = json.loads((OPENAPI / COMBINED).read_text(encoding="utf-8"))
    async with httpx.AsyncClient(timeout=30) as http:
        served = (await http.get(f"{topology.gateway}/openapi.json")).json()
        for service, url in topology.direct.items():
            own = (await http.get(f"{url}/openapi.json")).json()
            public = {p for p in own["paths"] if p.startswith("/v1/")}
            assert public, service
            for path in public:
                assert served["paths"][path] == committed["paths"][path], path
                assert served["paths"][path].keys() == own["paths"][path].keys(), path
        assert not [p for p in served["paths"] if not p.startswith("/v1/")]
        page = await http.get(f"{topology.gateway}/docs")
        assert page.status_code == 200
        assert "/openapi.json" in page.text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            assert f"/docs-assets/{asset}" in page.text
            got = await http.get(f"{topology.gateway}/docs-assets/{asset}")
            assert got.status_code == 200, asset
            assert len(got.content) > 1000, asset


def _log_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def _logged(log: Path, request_id: str, within_s: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within_s
    while True:
        found = [line for line in _log_lines(log) if line.get("request_id") == request_id]
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("service", RUNNING)
async def test_a_request_without_an_id_gets_one_and_the_service_logs_it(
    topology: Topology, service: str
) -> None:
    path = {
        "ingest": "/v1/events",
        "health-scoring": "/v1/admin/scorecard",
        "incentives": "/v1/admin/incentives/programs",
        "notifications": "/v1/admin/notifications/rules",
    }[service]
    async with httpx.AsyncClient(timeout=30, headers=topology.auth("admin")) as http:
        answer = await http.get(topology.gateway + path)
        assert "x-request-id" not in answer.request.headers
        request_id = answer.headers["x-request-id"]
        assert len(request_id) >= 16
        lines = await _logged(topology.logs[service], request_id)
        assert lines, f"no {service} log line carries {request_id}"
        assert any(path in str(line.get("message", "")) for line in lines), lines

        mine = f"portal-{uuid.uuid4().hex}"
        kept = await http.get(topology.gateway + path, headers={"X-Request-ID": mine})
        assert kept.headers["x-request-id"] == mine
        assert await _logged(topology.logs[service], mine)

        insane = await http.get(topology.gateway + path, headers={"X-Request-ID": "a b" * 100})
        replaced = insane.headers["x-request-id"]
        assert replaced != "a b" * 100
        assert await _logged(topology.logs[service], replaced)


async def test_an_error_body_comes_with_the_request_id_in_the_log(topology: Topology) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(
            topology.gateway + "/v1/events",
            content=b"{not json",
            headers={"Content-Type": "application/json", **topology.auth("ingest")},
        )
    assert answer.status_code == 400, answer.text
    assert error_of(answer)["error"] == "malformed_json"
    assert await _logged(topology.logs["ingest"], answer.headers["x-request-id"])


VALIDATED = {
    "ingest": "/v1/admin/webhooks/unmapped",
    "health-scoring": "/v1/partners/p-any/customers",
    "incentives": "/v1/incentives/partners/p-any/entries",
    "notifications": "/v1/admin/notifications/deliveries",
}
"""A route of each service with a `limit` query parameter (1 at least)."""


@pytest.mark.parametrize("service", RUNNING)
async def test_a_validation_error_quotes_the_request_id_direct_and_through_the_gateway(
    topology: Topology, service: str
) -> None:
    mine = f"client-{service}-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=30, headers=topology.auth("admin")) as http:
        for base in (topology.gateway, topology.direct[service]):
            made = await http.get(base + VALIDATED[service], params={"limit": 0})
            kept = await http.get(
                base + VALIDATED[service], params={"limit": 0}, headers={"X-Request-ID": mine}
            )
            for answer in (made, kept):
                assert answer.status_code == 422, (base, answer.text)
                assert error_of(answer)["detail"][0]["loc"] == ["query", "limit"]
            assert made.json()["request_id"] != mine
            assert kept.json()["request_id"] == mine, "the client's own id is kept"
    assert await _logged(topology.logs[service], mine)


async def test_the_gateways_own_errors_quote_the_request_id(topology: Topology) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        made = await http.get(topology.gateway + "/nowhere")
        kept = await http.get(topology.gateway + "/nowhere", headers={"X-Request-ID": "gw-1"})
    assert error_of(made)["error"] == error_of(kept)["error"] == "not_found"
    assert made.json()["request_id"]
    assert kept.json()["request_id"] == kept.headers["x-request-id"] == "gw-1"


async def test_a_token_past_its_limit_gets_429_with_retry_after(topology: Topology) -> None:
    partner = f"p-limit-{uuid.uuid4().hex[:6]}"
    headers = topology.auth("partner", partner)
    url = f"{topology.gateway}/v1/partners/{partner}/customers"
    async with httpx.AsyncClient(timeout=30, headers=headers) as http:
        answers = [await http.get(url) for _ in range(PARTNER_LIMIT)]
        assert {a.status_code for a in answers} == {200}, answers[-1].text
        refused = await http.get(url)
        assert refused.status_code == 429, refused.text
        assert error_of(refused)["error"] == "rate_limited"
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 60 // PARTNER_LIMIT
        other = await http.get(url, headers=topology.auth("partner", partner))
        assert other.status_code == 200, "another subject has a bucket of its own"
    lines = await _logged(topology.logs["health-scoring"], refused.headers["x-request-id"])
    assert any(line.get("message") == "rate limited" for line in lines), lines


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_a_body_over_the_limit_is_refused_at_the_gateway(
    topology: Topology, chunked: bool
) -> None:
    limit = FourfoldSettings().max_body_bytes
    headers = {"Content-Type": "application/json", **topology.auth("ingest")}
    body = b" " * (limit + 1)
    async with httpx.AsyncClient(timeout=60, headers=headers) as http:
        refused = await http.post(
            topology.gateway + "/v1/events", content=_chunks(body) if chunked else body
        )
        assert refused.status_code == 413
        assert error_of(refused) == {
            "error": "payload_too_large",
            "detail": f"request body exceeds {limit} bytes",
        }
        assert refused.headers["server"] == "Caddy", "answered by the gateway, not ingest"
        at_the_limit = await http.post(topology.gateway + "/v1/events", content=b" " * limit)
        assert at_the_limit.status_code == 400, "read by ingest: blank is not JSON"
        assert at_the_limit.headers["x-request-id"]


async def _scored(http: httpx.AsyncClient, url: str, within_s: float = 60) -> httpx.Response:
    deadline = time.monotonic() + within_s
    while True:
        answer = await http.get(url)
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.3)


async def test_a_partner_reading_another_partners_customer_through_the_gateway_gets_404(
    topology: Topology,
) -> None:
    tag = uuid.uuid4().hex[:8]
    owner, other, customer = f"p-own-{tag}", f"p-other-{tag}", f"c-gw-{tag}"
    events = [
        subscription_created(f"gw-{tag}-1", customer, owner),
        milestone_completed(f"gw-{tag}-2", customer, owner),
    ]
    async with httpx.AsyncClient(timeout=30) as http:
        posted = await http.post(
            topology.gateway + "/v1/events",
            content=json.dumps(events),
            headers={
                "Content-Type": "application/cloudevents-batch+json",
                **topology.auth("ingest"),
            },
        )
        assert posted.status_code == 202, posted.text
        health = f"{topology.gateway}/v1/customers/{customer}/health"
        http.headers.update(topology.auth("partner", owner))
        assert (await _scored(http, health)).status_code == 200
        own = {
            health: 200,
            f"{health}/history": 200,
            f"{topology.gateway}/v1/partners/{owner}/customers": 200,
            f"{topology.gateway}/v1/partners/{owner}/summary": 200,
            f"{topology.gateway}/v1/incentives/partners/{owner}/balance": 200,
            f"{topology.gateway}/v1/incentives/partners/{owner}/entries": 200,
            f"{topology.gateway}/v1/incentives/partners/{owner}/statements": 200,
            f"{topology.gateway}/v1/incentives/partners/{owner}/disputes": 200,
        }
        for url, status in own.items():
            answer = await http.get(url)
            assert answer.status_code == status, (url, answer.text)
        http.headers.update(topology.auth("partner", other))
        for url in own:
            answer = await http.get(url)
            assert answer.status_code == 404, (url, answer.text)
            assert answer.json()["error"] == "not_found"
