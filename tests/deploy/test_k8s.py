"""deploy/k8s: every manifest valid for a fixed Kubernetes version, and consistent with compose."""

from __future__ import annotations

import copy
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

from fourfold.notifications.settings import NotificationsSettings

K8S_VERSION = "1.33.0"
NAMESPACE = "fourfold"


def validate(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_every_manifest_is_valid(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    errors = []
    for path, doc in k8s_docs:
        try:
            validate(doc)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as e:
            errors.append(f"{path.name} {doc.get('kind')}/{doc['metadata']['name']}: {e}")
    assert errors == []


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: d["spec"].update(replicas="two"), id="replicas-not-int"),
        pytest.param(lambda d: d["spec"]["template"]["spec"].update(contaners=[]), id="typo"),
        pytest.param(
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"].update(
                httpGet={"path": "/readyz"}
            ),
            id="probe-without-port",
        ),
        pytest.param(lambda d: d.update(apiVersion="extensions/v1beta1"), id="removed-api"),
    ],
)
def test_validation_catches_mistakes(k8s_objects: dict[tuple[str, str], Any], mutate: Any) -> None:
    broken = copy.deepcopy(k8s_objects[("Deployment", "ingest")])
    mutate(broken)
    with pytest.raises(
        (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError)
    ):
        validate(broken)


def test_kustomization_lists_every_manifest(facts: ModuleType) -> None:
    kustomization = facts.load_yaml(facts.K8S_DIR / "kustomization.yaml")
    files = {p.name for p in facts.K8S_DIR.glob("*.y*ml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["namespace"] == NAMESPACE
    assert [i["name"] for i in kustomization["images"]] == ["fourfold"]


def test_everything_in_the_namespace(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    kinds = [d["kind"] for _, d in k8s_docs]
    assert kinds.count("Namespace") == 1
    for _, doc in k8s_docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]


def test_one_deployment_per_compose_service(
    k8s_objects: dict[tuple[str, str], Any], facts: ModuleType
) -> None:
    deployments = {name for kind, name in k8s_objects if kind == "Deployment"}
    assert deployments == set(facts.PROCESSES)


def test_deployment_probes_and_resources(
    k8s_objects: dict[tuple[str, str], Any], facts: ModuleType, process_name: str
) -> None:
    dep = k8s_objects[("Deployment", process_name)]
    c = container(dep)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": facts.SERVICE_PORT}
    probes = {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
        "startupProbe": "/healthz",
    }
    for probe, path in probes.items():
        get = c[probe]["httpGet"]
        assert get["path"] == path, probe
        assert get["port"] in (ports.keys() | set(ports.values())), probe
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][part]), part
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(facts.SERVICE_PORT)
    assert annotations["prometheus.io/path"] == "/metrics"
    assert c["image"] == "fourfold"
    assert c["command"] == facts.SERVICES[facts.service_of(process_name)]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    selector = dep["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_env_names_match_compose(
    k8s_objects: dict[tuple[str, str], Any],
    compose: dict[str, Any],
    facts: ModuleType,
    process_name: str,
) -> None:
    env = container(k8s_objects[("Deployment", process_name)])["env"]
    names = [e["name"] for e in env]
    assert len(names) == len(set(names)), "duplicate env names"
    compose_env = facts.as_env(compose["services"][process_name]["environment"])
    assert set(names) == set(compose_env)
    assert set(names) >= facts.REQUIRED_ENV
    by_name = {e["name"]: e for e in env}
    assert by_name["FOURFOLD_SERVICE_NAME"]["value"] == facts.service_of(process_name)
    assert by_name.get("FOURFOLD_ROLE", {}).get("value") == facts.role_of(process_name)
    assert compose_env.get("FOURFOLD_ROLE") == facts.role_of(process_name)


def test_env_references_resolve(
    k8s_objects: dict[tuple[str, str], Any], facts: ModuleType, process_name: str
) -> None:
    config = k8s_objects[("ConfigMap", "fourfold-config")]["data"]
    secret = k8s_objects[("Secret", "fourfold-secrets")]["stringData"]
    for e in container(k8s_objects[("Deployment", process_name)])["env"]:
        source = e.get("valueFrom", {})
        if e["name"] in facts.SECRET_ENV:
            ref = source.get("secretKeyRef")
            assert ref, f"{e['name']} must come from the Secret"
            assert ref["name"] == "fourfold-secrets"
            assert ref["key"] in secret
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            assert ref["name"] == "fourfold-config"
            assert ref["key"] in config
        else:
            assert "secretKeyRef" not in source
            assert e["name"] in facts.PLAIN_ENV, f"{e['name']}: put it in the ConfigMap"


def test_secret_holds_only_placeholders(k8s_objects: dict[tuple[str, str], Any]) -> None:
    secret = k8s_objects[("Secret", "fourfold-secrets")]
    assert "data" not in secret, "use stringData placeholders, never encoded real values"
    for key, value in secret["stringData"].items():
        assert "REPLACE_ME" in value, key


def test_service_selects_the_pods(
    k8s_objects: dict[tuple[str, str], Any], facts: ModuleType, service_name: str
) -> None:
    dep = k8s_objects[("Deployment", service_name)]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    svc = k8s_objects[("Service", service_name)]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    port_names = {p["name"] for p in container(dep)["ports"]}
    for port in svc["spec"]["ports"]:
        assert port["targetPort"] in port_names
        assert port["port"] == facts.SERVICE_PORT


def test_a_service_routes_to_its_api_pods_only(
    k8s_objects: dict[tuple[str, str], Any], facts: ModuleType
) -> None:
    """A consuming service's worker serves no routes: its Service must not select it."""
    for worker, service in facts.WORKERS.items():
        worker_pods = k8s_objects[("Deployment", worker)]["spec"]["template"]["metadata"]
        api_pods = k8s_objects[("Deployment", service)]["spec"]["template"]["metadata"]
        selector = k8s_objects[("Service", service)]["spec"]["selector"]
        assert selector.items() <= api_pods["labels"].items()
        assert not selector.items() <= worker_pods["labels"].items(), worker
    assert {name for kind, name in k8s_objects if kind == "Service"} == set(facts.SERVICES)


def test_each_deployment_has_its_disruption_budget(
    k8s_objects: dict[tuple[str, str], Any], process_name: str
) -> None:
    dep = k8s_objects[("Deployment", process_name)]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    selector = dep["spec"]["selector"]["matchLabels"]
    pdb = k8s_objects[("PodDisruptionBudget", process_name)]
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    assert selector.items() <= pod_labels.items()
    assert 1 <= pdb["spec"]["minAvailable"] < dep["spec"]["replicas"]


def test_api_and_worker_select_disjoint_pods(
    k8s_objects: dict[tuple[str, str], Any], facts: ModuleType
) -> None:
    """Each Deployment's selector matches only its own pods (else each adopts the other's)."""
    deployments = {name: k8s_objects[("Deployment", name)] for name in facts.PROCESSES}
    for name, dep in deployments.items():
        selector = dep["spec"]["selector"]["matchLabels"]
        for other, other_dep in deployments.items():
            labels = other_dep["spec"]["template"]["metadata"]["labels"]
            assert (selector.items() <= labels.items()) == (name == other), (name, other)


def test_topics_job_matches_compose(
    k8s_objects: dict[tuple[str, str], Any], compose: dict[str, Any], facts: ModuleType
) -> None:
    job = k8s_objects[("Job", "fourfold-kafka-topics")]
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert set(env["TOPICS"]["value"].split()) == facts.TOPICS
    init = facts.as_env(compose["services"]["kafka-init"]["environment"])
    assert set(init["TOPICS"].split()) == facts.TOPICS


def test_manifests_parse_without_yaml_tricks(facts: ModuleType) -> None:
    # kubectl and kustomize differ on anchors and merge keys; keep the manifests plain.
    for path in facts.K8S_DIR.glob("*.yaml"):
        for event in yaml.parse(path.read_text(encoding="utf-8")):
            assert not isinstance(event, yaml.AliasEvent), f"{path.name}: YAML alias"
            assert getattr(event, "anchor", None) is None, f"{path.name}: YAML anchor"


def test_every_deployment_scales_within_its_partitions(
    k8s_objects: dict[tuple[str, str], Any], facts: ModuleType, process_name: str
) -> None:
    """One HPA per Deployment; a consuming service's worker never scales past the partition
    count (a replica beyond it gets no partition) and none below what its PDB keeps plus one."""
    hpa = k8s_objects[("HorizontalPodAutoscaler", process_name)]
    dep = k8s_objects[("Deployment", process_name)]
    spec = hpa["spec"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": process_name,
    }
    pdb = k8s_objects[("PodDisruptionBudget", process_name)]
    assert pdb["spec"]["minAvailable"] < spec["minReplicas"] == dep["spec"]["replicas"]
    assert spec["minReplicas"] < spec["maxReplicas"]
    partitions = int(
        k8s_objects[("ConfigMap", "fourfold-config")]["data"]["FOURFOLD_TOPIC_PARTITIONS"]
    )
    if process_name in facts.WORKERS:
        assert spec["maxReplicas"] <= partitions
    [metric] = spec["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert "cpu" in container(dep)["resources"]["requests"], "utilization needs a CPU request"
    # each scaling step is a rebalance: scale down slowly, after a quiet spell
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    assert all(
        p["type"] == "Pods" and p["value"] == 1 for p in spec["behavior"]["scaleDown"]["policies"]
    )


def test_partitions_divide_evenly_among_replica_counts(
    k8s_objects: dict[tuple[str, str], Any],
) -> None:
    """12 partitions split evenly over 1, 2, 3, 4, 6 and 12 replicas (docs/deploy.md)."""
    partitions = int(
        k8s_objects[("ConfigMap", "fourfold-config")]["data"]["FOURFOLD_TOPIC_PARTITIONS"]
    )
    assert partitions >= 12
    assert all(partitions % n == 0 for n in (1, 2, 3, 4, 6))


def test_the_notifications_worker_gets_its_email_settings(
    k8s_objects: dict[tuple[str, str], Any], compose: dict[str, Any], facts: ModuleType
) -> None:
    """Without them every email delivery would go to 127.0.0.1:25 and be dead-lettered."""
    worker = container(k8s_objects[("Deployment", "notifications-worker")])["env"]
    composed = facts.as_env(compose["services"]["notifications-worker"]["environment"])
    assert {e["name"] for e in worker} >= facts.SMTP_ENV
    assert set(composed) >= facts.SMTP_ENV
    settings = {f"FOURFOLD_{name.upper()}" for name in NotificationsSettings.model_fields}
    assert settings >= facts.SMTP_ENV  # names the service really reads
