"""The metric contract the dashboards and alerts rely on is what the services register."""

from __future__ import annotations

import importlib

from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from .conftest import METRICS  # type: ignore[import-not-found]

# Every module that defines metrics; importing them registers the metrics.
METRIC_MODULES = [
    "fourfold.metrics",
    "fourfold.ingest.intake",
    "fourfold.ingest.adapters.metrics",
    "fourfold.health.metrics",
    "fourfold.incentives.metrics",
    "fourfold.notifications.metrics",
]


def registered() -> dict[str, tuple[str, frozenset[str]]]:
    for module in METRIC_MODULES:
        importlib.import_module(module)
    found: dict[str, tuple[str, frozenset[str]]] = {}
    # prometheus_client has no public way to list a registry's metric objects.
    for collector in list(REGISTRY._collector_to_names):
        if not isinstance(collector, MetricWrapperBase):
            continue  # process and GC collectors of the client itself
        kind = collector._type
        name = collector._name + ("_total" if kind == "counter" else "")
        found[name] = (kind, frozenset(collector._labelnames))
    return found


def test_every_metric_the_deploy_files_use_is_registered_with_its_kind_and_labels() -> None:
    code = registered()
    for name, expected in METRICS.items():
        assert name in code, f"{name} is used in deploy/ but no service registers it"
        kind, labels = code[name]
        assert kind == expected.kind, f"{name}: {kind} in code, {expected.kind} in deploy"
        assert labels == expected.labels, f"{name}: labels {sorted(labels)} in code"
