"""Shared facts and helpers for the static deploy checks (no Docker, no cluster, no network).

The facts below (services, routes, topics, metrics) are the contract the deploy files must
follow; change them here only together with the code and docs/deploy.md.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from fourfold.gateway import route_map

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S_DIR = DEPLOY / "k8s"

# Fourfold services: compose service name == k8s Deployment name == FOURFOLD_SERVICE_NAME.
SERVICES: dict[str, list[str]] = {
    "ingest": [
        "uvicorn",
        "fourfold.ingest.app:create_app",
        "--factory",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ],
    "health-scoring": [
        "uvicorn",
        "fourfold.health.app:create_app",
        "--factory",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ],
    "incentives": [
        "uvicorn",
        "fourfold.incentives.app:create_app",
        "--factory",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ],
    "notifications": [
        "uvicorn",
        "fourfold.notifications.app:create_app",
        "--factory",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ],
}
# A consuming service runs as two processes of the image (docs/runtime.md, "Process roles"):
# its api, named like the service (the gateway's upstream, behind its k8s Service), and its
# worker, `<service>-worker` (consumer, outbox relay, writers). Ingest has one process.
CONSUMING = ("health-scoring", "incentives", "notifications")
WORKERS: dict[str, str] = {f"{service}-worker": service for service in CONSUMING}
PROCESSES = [*SERVICES, *WORKERS]
"""Every compose service and k8s Deployment of a Fourfold process."""


def service_of(process: str) -> str:
    """The Fourfold service (FOURFOLD_SERVICE_NAME) a process belongs to."""
    return WORKERS.get(process, process)


def role_of(process: str) -> str | None:
    """FOURFOLD_ROLE of a process: api or worker for a consuming service, unset for ingest."""
    if process in WORKERS:
        return "worker"
    return "api" if process in CONSUMING else None


SERVICE_PORT = 8000
REQUIRED_ENV = {
    "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS",
    "FOURFOLD_DATABASE_URL",
    "FOURFOLD_AUTH_SECRET",
    "FOURFOLD_TOPIC_PARTITIONS",
    "FOURFOLD_LOG_LEVEL",
    "FOURFOLD_SERVICE_NAME",
}
SMTP_SECRET_ENV = {"FOURFOLD_NOTIFICATIONS_SMTP_USERNAME", "FOURFOLD_NOTIFICATIONS_SMTP_PASSWORD"}
SMTP_ENV = SMTP_SECRET_ENV | {
    "FOURFOLD_NOTIFICATIONS_SMTP_HOST",
    "FOURFOLD_NOTIFICATIONS_SMTP_PORT",
    "FOURFOLD_NOTIFICATIONS_SMTP_STARTTLS",
    "FOURFOLD_NOTIFICATIONS_MAIL_FROM",
}
"""What the notifications worker needs besides the shared settings: its email channel."""
SECRET_ENV = {"FOURFOLD_AUTH_SECRET", "FOURFOLD_DATABASE_URL", *SMTP_SECRET_ENV}
# Every FOURFOLD_* name a deploy file may set: the required ones and optional settings.
SETTINGS_ENV = REQUIRED_ENV | SMTP_ENV | {"FOURFOLD_TOPIC_REPLICATION_FACTOR", "FOURFOLD_ROLE"}
PLAIN_ENV = {"FOURFOLD_SERVICE_NAME", "FOURFOLD_ROLE"}
"""What a Deployment may set as a literal value (the rest from the ConfigMap or Secret)."""

# Gateway: path prefix -> service, from the one route table (make dev's Caddy uses it too).
ROUTES: dict[str, str] = route_map()

BASE_TOPICS = [
    "billing.subscriptions",
    "product.usage",
    "partner.activity",
    "customer.health",
    "partner.incentives",
    "partner.nudges",
]
TOPICS = {t for base in BASE_TOPICS for t in (base, f"{base}.dlq")}


@dataclass(frozen=True)
class Metric:
    kind: str  # counter | gauge | histogram
    labels: frozenset[str]


def _m(kind: str, *labels: str) -> Metric:
    return Metric(kind, frozenset(labels))


METRICS: dict[str, Metric] = {
    "fourfold_http_requests_total": _m("counter", "service", "method", "route", "status"),
    "fourfold_http_request_duration_seconds": _m("histogram", "service", "method", "route"),
    "fourfold_events_consumed_total": _m("counter", "service", "topic"),
    "fourfold_events_failed_total": _m("counter", "service", "topic", "reason"),
    "fourfold_events_dead_lettered_total": _m("counter", "service", "topic", "reason"),
    "fourfold_consumer_lag": _m("gauge", "service", "topic", "partition"),
    "fourfold_batch_duration_seconds": _m("histogram", "service", "topic"),
    "fourfold_batch_size": _m("histogram", "service", "topic"),
    "fourfold_notifications_nudges_raised_total": _m("counter", "rule"),
    "fourfold_notifications_nudges_resolved_total": _m("counter", "rule", "resolution"),
    "fourfold_notifications_deliveries_total": _m("counter", "channel", "outcome"),
    "fourfold_notifications_delivery_duration_seconds": _m("histogram", "channel"),
    "fourfold_notifications_dead_letters_total": _m("counter", "channel"),
    "fourfold_notifications_dead_letters_pending": _m("gauge"),
    "fourfold_notifications_digest_size": _m("histogram"),
    "fourfold_notifications_scheduled_evaluations_total": _m("counter"),
    "fourfold_outbox_pending": _m("gauge", "service"),
    "fourfold_outbox_published_total": _m("counter", "service"),
    "fourfold_ingest_events_total": _m("counter", "result"),
    "fourfold_ingest_webhook_events_total": _m("counter", "adapter", "outcome"),
    "fourfold_ingest_webhook_auth_failures_total": _m("counter", "adapter", "reason"),
    "fourfold_health_scores_total": _m("counter", "band"),
    "fourfold_incentives_entries_total": _m("counter", "kind", "rule", "currency"),
    "fourfold_incentives_amount_total": _m("counter", "kind", "rule", "currency"),
    "fourfold_incentives_cap_hits_total": _m("counter", "rule", "currency"),
    "fourfold_incentives_duplicate_entries_total": _m("counter"),
}
# Labels Prometheus adds to every scraped series, and its own synthetic `up` series.
TARGET_LABELS = frozenset({"job", "instance"})
PROMETHEUS_SERIES = {"up": frozenset()}


def series_labels() -> dict[str, frozenset[str]]:
    """Every series name a query may select, with the labels it carries."""
    out: dict[str, frozenset[str]] = {}
    for name, m in METRICS.items():
        if m.kind == "histogram":
            out[f"{name}_bucket"] = m.labels | {"le"}
            out[f"{name}_sum"] = m.labels
            out[f"{name}_count"] = m.labels
        else:
            out[name] = m.labels
    for name, labels in PROMETHEUS_SERIES.items():
        out[name] = labels
    return {k: v | TARGET_LABELS for k, v in out.items()}


def series_to_metric(series: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        base = series.removesuffix(suffix)
        if base != series and METRICS.get(base, Metric("", frozenset())).kind == "histogram":
            return base
    return series


# ------------------------------------------------------------------------------------------
# A small PromQL reader: enough to find every series, label and function an expression uses.
# ------------------------------------------------------------------------------------------

PROMQL_FUNCTIONS = {
    # aggregations
    "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "count_values", "limitk", "limit_ratio",
    # functions
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "day_of_month", "day_of_week", "days_in_month", "delta", "deriv", "exp", "floor",
    "histogram_quantile", "histogram_count", "histogram_sum", "histogram_avg", "holt_winters",
    "hour", "idelta", "increase", "irate", "label_join", "label_replace", "ln", "log2",
    "log10", "minute", "month", "predict_linear", "rate", "resets", "round", "scalar", "sgn",
    "sort", "sort_desc", "sqrt", "time", "timestamp", "vector", "year", "avg_over_time",
    "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "quantile_over_time",
    "stddev_over_time", "stdvar_over_time", "last_over_time", "present_over_time",
}  # fmt: skip
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
PROMQL_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?)
  | (?P<var>\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=(){}\[\],:@])
    """,
    re.VERBOSE,
)


@dataclass
class PromQL:
    """What one expression uses, and what is wrong with it."""

    expr: str
    series: dict[str, set[str]] = field(default_factory=dict)  # name -> matcher labels
    grouping: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def _tokens(expr: str) -> Iterator[tuple[str, str]]:
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ValueError(f"cannot read {expr[pos : pos + 20]!r} in {expr!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "ws":
            yield kind, m.group()


def parse_promql(expr: str) -> PromQL:
    out = PromQL(expr)
    try:
        toks = list(_tokens(expr))
    except ValueError as e:
        out.errors.append(str(e))
        return out
    depth = {"(": 0, "[": 0, "{": 0}
    closing = {")": "(", "]": "[", "}": "{"}
    for _, t in toks:
        if t in depth:
            depth[t] += 1
        elif t in closing:
            depth[closing[t]] -= 1
            if depth[closing[t]] < 0:
                out.errors.append(f"unbalanced {t!r}")
    if any(depth.values()):
        out.errors.append(f"unbalanced brackets: {depth}")

    i = 0
    while i < len(toks):
        kind, tok = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if tok == "[":  # range or subquery: durations and Grafana variables only
            while i < len(toks) and toks[i][1] != "]":
                i += 1
        elif kind == "ident" and tok in PROMQL_GROUPING:
            if nxt == "(":
                i += 2
                while i < len(toks) and toks[i][1] != ")":
                    if toks[i][0] == "ident":
                        out.grouping.add(toks[i][1])
                    i += 1
        elif kind == "ident" and tok in PROMQL_FUNCTIONS:
            out.functions.add(tok)
        elif kind == "ident" and tok.lower() in PROMQL_KEYWORDS:
            pass
        elif kind == "ident" and nxt == "(":
            out.errors.append(f"unknown function {tok!r}")
        elif kind == "ident":
            labels = out.series.setdefault(tok, set())
            if nxt == "{":
                i += 2
                while i < len(toks) and toks[i][1] != "}":
                    if toks[i][0] == "ident":
                        labels.add(toks[i][1])
                        ops = toks[i + 1][1] if i + 1 < len(toks) else ""
                        if ops not in {"=", "!=", "=~", "!~"}:
                            out.errors.append(f"bad matcher after {toks[i][1]!r}")
                    i += 1
        elif tok == "{":
            out.errors.append("selector without a metric name")
        i += 1
    return out


def promql_problems(expr: str) -> list[str]:
    """Everything that makes `expr` refer to something Fourfold does not export."""
    q = parse_promql(expr)
    problems = list(q.errors)
    known = series_labels()
    if not q.series:
        problems.append("selects no metric")
    for name, labels in q.series.items():
        if name not in known:
            problems.append(f"unknown metric {name!r}")
            continue
        for label in sorted(labels - known[name]):
            problems.append(f"{name} has no label {label!r}")
    available = set(TARGET_LABELS)
    for name in q.series:
        available |= known.get(name, frozenset())
    for label in sorted(q.grouping - available):
        problems.append(f"groups by {label!r}, which no selected metric has")
    return problems


# ------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------


def as_env(env: Any) -> dict[str, str]:
    """A compose `environment` (list or mapping) as a dict."""
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in (env or {}).items()}


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    data = load_yaml(REPO / "docker-compose.yml")
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object in deploy/k8s (the kustomization file excluded)."""
    docs = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend((path, doc) for doc in load_yaml_docs(path))
    assert docs, "no manifests in deploy/k8s"
    return docs


@pytest.fixture(scope="session")
def k8s_objects(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> dict[tuple[str, str], Any]:
    return {(d["kind"], d["metadata"]["name"]): d for _, d in k8s_docs}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`service_name` in a test's arguments: one test per Fourfold service; `process_name`:
    one per process (a consuming service's api and worker)."""
    if "service_name" in metafunc.fixturenames:
        metafunc.parametrize("service_name", sorted(SERVICES))
    if "process_name" in metafunc.fixturenames:
        metafunc.parametrize("process_name", sorted(PROCESSES))


@pytest.fixture(scope="session")
def facts() -> types.ModuleType:
    """This module: the contract constants and helpers above, for the test modules."""
    return sys.modules[__name__]


@pytest.fixture(scope="session")
def promql() -> Callable[[str], list[str]]:
    return promql_problems
