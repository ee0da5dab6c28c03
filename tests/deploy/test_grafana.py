"""Grafana: dashboards well-formed, every query on metrics Fourfold exports, provisioning wired."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"


def dashboards() -> list[Path]:
    return sorted((GRAFANA / "dashboards").glob("*.json"))


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


@pytest.fixture(scope="module")
def datasource_uids(facts: ModuleType) -> set[str]:
    uids = set()
    for path in (GRAFANA / "provisioning" / "datasources").glob("*.yml"):
        for ds in facts.load_yaml(path)["datasources"]:
            assert ds["type"] == "prometheus"
            assert ds["url"] == "http://prometheus:9090"
            uids.add(ds["uid"])
    assert uids
    return uids


@pytest.fixture(scope="module", params=dashboards(), ids=lambda p: p.name)
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    data = json.loads(request.param.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_there_is_a_dashboard() -> None:
    assert dashboards()


def test_dashboard_shape(dashboard: dict[str, Any]) -> None:
    for key in ("uid", "title", "panels", "schemaVersion"):
        assert dashboard.get(key), key
    assert re.fullmatch(r"[\w-]{1,40}", dashboard["uid"])
    panels = list(all_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for p in panels:
        g = p["gridPos"]
        assert {"h", "w", "x", "y"} <= set(g), p["title"]
        assert g["x"] >= 0, p["title"]
        assert g["x"] + g["w"] <= 24, p["title"]
        if p["type"] != "row":
            assert p.get("targets"), f"{p['title']} has no query"


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for p in all_panels(dashboard["panels"]):
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


def test_queries_use_known_metrics_and_datasource(
    dashboard: dict[str, Any],
    datasource_uids: set[str],
    promql: Callable[[str], list[str]],
) -> None:
    problems = {}
    for p in all_panels(dashboard["panels"]):
        for t in p.get("targets", []):
            assert t.get("expr"), f"{p['title']}/{t.get('refId')}: empty query"
            assert t["datasource"]["uid"] in datasource_uids
            if found := promql(t["expr"]):
                problems[f"{p['title']}/{t['refId']}"] = found
        if "datasource" in p and p["type"] != "row":
            assert p["datasource"]["uid"] in datasource_uids, p["title"]
    assert problems == {}


def test_template_variables(dashboard: dict[str, Any], facts: ModuleType) -> None:
    known = facts.series_labels()
    for var in dashboard.get("templating", {}).get("list", []):
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
        assert m, query
        assert m.group(1) in known
        assert m.group(2) in known[m.group(1)]


def test_every_metric_is_on_a_panel(dashboard: dict[str, Any], facts: ModuleType) -> None:
    used = set()
    for p in all_panels(dashboard["panels"]):
        for t in p.get("targets", []):
            used |= {facts.series_to_metric(s) for s in facts.parse_promql(t["expr"]).series}
    assert set(facts.METRICS) - used == set()


def test_dashboard_provider_matches_compose_mount(
    compose: dict[str, Any], facts: ModuleType
) -> None:
    mounts = dict(reversed(v.split(":")[:2]) for v in compose["services"]["grafana"]["volumes"])
    for path in (GRAFANA / "provisioning" / "dashboards").glob("*.yml"):
        for provider in facts.load_yaml(path)["providers"]:
            assert provider["type"] == "file"
            assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
