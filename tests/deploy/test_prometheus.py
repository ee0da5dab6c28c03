"""Prometheus config and alert rules: structure, and only metrics Fourfold exports."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

PROM_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
# What the alerts must cover (brief): alert name -> a metric its expression must use.
REQUIRED_ALERTS = {
    "FourfoldHighDLQRate": "fourfold_events_dead_lettered_total",
    "FourfoldConsumerLagGrowing": "fourfold_consumer_lag",
    "FourfoldHigh5xxRate": "fourfold_http_requests_total",
    "FourfoldIngest503": "fourfold_http_requests_total",
    "FourfoldOutboxBacklog": "fourfold_outbox_pending",
    "FourfoldWebhookAuthFailures": "fourfold_ingest_webhook_auth_failures_total",
    "FourfoldWebhookUnmapped": "fourfold_ingest_webhook_events_total",
}


@pytest.fixture(scope="module")
def rule_files() -> list[Path]:
    files = sorted((PROM_DIR / "rules").glob("*.yml"))
    assert files
    return files


@pytest.fixture(scope="module")
def rules(rule_files: list[Path], facts: ModuleType) -> list[dict[str, Any]]:
    out = []
    for path in rule_files:
        doc = facts.load_yaml(path)
        assert set(doc) == {"groups"}, path.name
        for group in doc["groups"]:
            assert set(group) <= {"name", "interval", "rules", "limit"}, group.get("name")
            assert group["rules"], group["name"]
            out.extend(group["rules"])
    return out


def test_group_names_unique(rule_files: list[Path], facts: ModuleType) -> None:
    names = [g["name"] for p in rule_files for g in facts.load_yaml(p)["groups"]]
    assert len(names) == len(set(names))


def test_rule_structure(rules: list[dict[str, Any]]) -> None:
    names = []
    for rule in rules:
        assert "alert" in rule, f"recording rules are not expected here: {rule}"
        names.append(rule["alert"])
        assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
        assert re.fullmatch(r"Fourfold[A-Z]\w+", rule["alert"])
        assert DURATION.match(rule.get("for", "0s")), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        for text in rule["annotations"].values():
            assert text.count("{{") == text.count("}}"), rule["alert"]
    assert len(names) == len(set(names)), "duplicate alert names"


def test_required_alerts_present(rules: list[dict[str, Any]], facts: ModuleType) -> None:
    by_name = {r["alert"]: r for r in rules}
    for name, metric in REQUIRED_ALERTS.items():
        assert name in by_name, name
        assert metric in facts.parse_promql(by_name[name]["expr"]).series, name
    assert "503" in by_name["FourfoldIngest503"]["expr"]
    assert "5.." in by_name["FourfoldHigh5xxRate"]["expr"]


def test_expressions_use_only_known_metrics(
    rules: list[dict[str, Any]], promql: Callable[[str], list[str]]
) -> None:
    problems = {r["alert"]: promql(r["expr"]) for r in rules}
    assert {k: v for k, v in problems.items() if v} == {}


def test_templates_use_only_grouped_labels(rules: list[dict[str, Any]], facts: ModuleType) -> None:
    # `{{ $labels.x }}` only has a value if x survives the expression's aggregation.
    for rule in rules:
        q = facts.parse_promql(rule["expr"])
        used = set()
        for text in rule["annotations"].values():
            used |= set(re.findall(r"\$labels\.(\w+)", text))
        if q.grouping:
            assert used <= q.grouping, (rule["alert"], used - q.grouping)


@pytest.mark.parametrize(
    "expr",
    [
        pytest.param("rate(fourfold_http_request_total[5m]) > 0", id="misspelt-metric"),
        pytest.param("fourfold_http_request_duration_seconds > 1", id="histogram-base-name"),
        pytest.param('sum(rate(fourfold_http_requests_total{code="500"}[5m]))', id="bad-label"),
        pytest.param("sum by (topic) (fourfold_outbox_pending) > 1", id="bad-grouping"),
        pytest.param("rat(fourfold_outbox_published_total[5m])", id="unknown-function"),
        pytest.param("sum(rate(fourfold_outbox_published_total[5m])", id="unbalanced"),
        pytest.param("vector(1) > 0", id="no-metric"),
    ],
)
def test_expression_check_catches_mistakes(expr: str, promql: Callable[[str], list[str]]) -> None:
    assert promql(expr)


def test_prometheus_config(compose: dict[str, Any], facts: ModuleType) -> None:
    config = facts.load_yaml(PROM_DIR / "prometheus.yml")
    # The rules glob must find the files through the compose mount.
    mounts = dict(reversed(v.split(":")[:2]) for v in compose["services"]["prometheus"]["volumes"])
    for pattern in config["rule_files"]:
        pattern_dir, glob = pattern.rsplit("/", 1)
        source = mounts[pattern_dir]
        assert list((PROM_DIR.parents[1] / source).glob(glob)), pattern
    targets: dict[str, str] = {}
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                targets[target.split(":")[0]] = job.get("metrics_path", "/metrics")
                if target.split(":")[0] in facts.PROCESSES:
                    assert target == f"{target.split(':')[0]}:{facts.SERVICE_PORT}"
                    assert job["job_name"].startswith("fourfold-"), job["job_name"]
    for process in facts.PROCESSES:  # a consuming service's worker too: the consumer's metrics
        assert targets.get(process) == "/metrics", f"{process} is not scraped"
