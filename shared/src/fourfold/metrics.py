"""Prometheus metrics every service exposes on /metrics, and the HTTP middleware feeding them.

Names and labels are a contract with deploy/grafana and deploy/prometheus: change them there
in the same commit.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Response
from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "fourfold_http_requests_total",
    "HTTP requests answered.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "fourfold_http_request_duration_seconds",
    "HTTP request latency.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_CONSUMED = Counter(
    "fourfold_events_consumed_total", "Records handled by a consumer.", ["service", "topic"]
)
EVENTS_FAILED = Counter(
    "fourfold_events_failed_total",
    "Handler failures (each retry counts).",
    ["service", "topic", "reason"],
)
EVENTS_DEAD_LETTERED = Counter(
    "fourfold_events_dead_lettered_total",
    "Records sent to <topic>.dlq.",
    ["service", "topic", "reason"],
)
CONSUMER_LAG = Gauge(
    "fourfold_consumer_lag",
    "Messages behind the highwater the consumer learned from its last fetch.",
    ["service", "topic", "partition"],
)
BATCH_DURATION = Histogram(
    "fourfold_batch_duration_seconds",
    "Time to handle and commit one batch.",
    ["service", "topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SIZE = Histogram(
    "fourfold_batch_size",
    "Records per handled batch.",
    ["service", "topic"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500),
)
OUTBOX_PENDING = Gauge("fourfold_outbox_pending", "Outbox rows not yet published.", ["service"])
OUTBOX_PUBLISHED = Counter(
    "fourfold_outbox_published_total", "Outbox rows published to the broker.", ["service"]
)
INBOX_PRUNED = Counter(
    "fourfold_inbox_pruned_total",
    "Inbox rows deleted because they are older than the retention.",
    ["service"],
)


class HttpMetricsMiddleware:
    """Count and time every request by its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service
        # (method, route, status) -> its counter and histogram children: `labels()` is a
        # locked lookup, twice per request otherwise. Bounded: routes are templates.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = _route_template(scope)
            method = scope["method"]
            children = self._children.get((method, route, status))
            if children is None:
                children = self._children[(method, route, status)] = (
                    HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                    HTTP_LATENCY.labels(self.service, method, route),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "unmatched"))
    app = scope.get("app")
    # iter_route_contexts: FastAPI keeps included routers as one entry; this walks into them
    for candidate in iter_route_contexts(getattr(getattr(app, "router", None), "routes", [])):
        match, _ = candidate.matches(scope)
        if match == Match.FULL:
            return str(candidate.path)
    return "unmatched"


def install_metrics(app: FastAPI, *, service: str) -> None:
    """Add the HTTP middleware and the /metrics route."""
    app.add_middleware(HttpMetricsMiddleware, service=service)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
