"""docker-compose.yml: valid against the Compose Specification schema, and wired as intended."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

SCHEMA_PATH = Path(__file__).parent / "schemas" / "compose_spec.json"
SCHEMA_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"
INFRA = {"kafka", "postgres", "gateway", "prometheus", "grafana"}
ONE_SHOT = {"kafka-init"}
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; $$ is a literal $.
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def compose_errors(doc: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    # The file names draft 2019-09 by an id jsonschema does not know ("http://.../schema#").
    assert "2019-09" in schema["$schema"]
    jsonschema.Draft201909Validator.check_schema(schema)
    validator = jsonschema.Draft201909Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def test_vendored_schema_is_the_recorded_one() -> None:
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    assert compose_errors(compose) == []


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda c: c["services"]["ingest"].update(helthcheck={}), id="misspelt-key"),
        pytest.param(
            lambda c: c["services"]["gateway"]["depends_on"]["ingest"].update(
                condition="service_ready"
            ),
            id="unknown-condition",
        ),
        pytest.param(
            lambda c: c["services"]["postgres"].update(ports=[{"target": "x"}]), id="bad-port"
        ),
        pytest.param(
            lambda c: c["services"]["kafka"]["healthcheck"].update(retries="many"),
            id="bad-retries",
        ),
        pytest.param(lambda c: c.update(servics={}), id="unknown-top-level-key"),
    ],
)
def test_schema_check_catches_mistakes(compose: dict[str, Any], mutate: Any) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert compose_errors(broken)


def test_expected_services_present(compose: dict[str, Any], facts: ModuleType) -> None:
    assert set(compose["services"]) == INFRA | ONE_SHOT | set(facts.PROCESSES)


def test_kafka_is_apache_kafka_in_kraft_mode(compose: dict[str, Any], facts: ModuleType) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = facts.as_env(kafka["environment"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_CONTROLLER_QUORUM_VOTERS" in env
    assert not any("ZOOKEEPER" in k for k in env)
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]


def test_kafka_init_creates_every_topic_and_dlq(compose: dict[str, Any], facts: ModuleType) -> None:
    init = compose["services"]["kafka-init"]
    assert set(facts.as_env(init["environment"])["TOPICS"].split()) == facts.TOPICS
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_postgres_version(compose: dict[str, Any]) -> None:
    image = compose["services"]["postgres"]["image"]
    m = re.fullmatch(r"postgres:(\d+)(?:[.\-][\w.\-]*)?", image)
    assert m, image
    assert int(m.group(1)) in {16, 17, 18}


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        if name in ONE_SHOT:
            continue
        hc = svc.get("healthcheck")
        assert hc, f"{name} has no healthcheck"
        assert hc.get("test"), name
        assert not hc.get("disable"), name


def test_depends_on_uses_conditions_that_can_be_met(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must use conditions"
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            cond = spec["condition"]
            if cond == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}'s health"
            if cond == "service_completed_successfully":
                assert dep in ONE_SHOT, f"{dep} never completes"


def test_depends_on_has_no_cycle(compose: dict[str, Any]) -> None:
    services = compose["services"]
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for dep in services[name].get("depends_on", {}):
            visit(dep, (*path, name))
        done.add(name)

    for name in services:
        visit(name, ())


def test_fourfold_service(compose: dict[str, Any], facts: ModuleType, process_name: str) -> None:
    svc = compose["services"][process_name]
    assert svc["command"] == facts.SERVICES[facts.service_of(process_name)]
    assert svc["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    env = facts.as_env(svc["environment"])
    assert set(env) >= facts.REQUIRED_ENV, facts.REQUIRED_ENV - set(env)
    assert env["FOURFOLD_SERVICE_NAME"] == facts.service_of(process_name)
    assert env.get("FOURFOLD_ROLE") == facts.role_of(process_name)
    assert env["FOURFOLD_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert re.fullmatch(
        r"postgresql\+asyncpg://fourfold:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/fourfold",
        env["FOURFOLD_DATABASE_URL"],
    )
    assert all(not k.startswith("FOURFOLD_") or k in facts.SETTINGS_ENV for k in env), env
    for dep in ("kafka", "postgres"):
        assert svc["depends_on"][dep]["condition"] == "service_healthy"
    probe = " ".join(svc["healthcheck"]["test"])
    assert f"127.0.0.1:{facts.SERVICE_PORT}/readyz" in probe


@pytest.mark.parametrize(
    ("service", "key"),
    [
        ("ingest", "FOURFOLD_AUTH_SECRET"),
        ("health-scoring", "FOURFOLD_AUTH_SECRET"),
        ("postgres", "POSTGRES_PASSWORD"),
        ("grafana", "GF_SECURITY_ADMIN_PASSWORD"),
    ],
)
def test_secrets_come_from_the_environment(
    compose: dict[str, Any], facts: ModuleType, service: str, key: str
) -> None:
    value = facts.as_env(compose["services"][service]["environment"])[key]
    # Required variable, no default: `${NAME:?message}`; never a literal in the file.
    assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*:\?[^}]+\}", value), f"{service}.{key} = {value!r}"


def test_every_variable_is_documented_in_the_env_example(compose: dict[str, Any]) -> None:
    example = (Path(__file__).parents[2] / "deploy" / "compose.env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    used = {m.group(1) for s in strings(compose) for m in INTERPOLATION.finditer(s)}
    assert used, "no interpolated variables found"
    assert used <= documented, used - documented
    # Every `$` in the file is an interpolation or an escaped `$$`.
    for s in strings(compose):
        rest = INTERPOLATION.sub("", s).replace("$$", "")
        assert "$" not in rest, f"bare $ in {s!r}: compose would interpolate it"


def test_observability_wiring(compose: dict[str, Any]) -> None:
    services = compose["services"]
    prom_mounts = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"]}
    assert prom_mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"
    assert prom_mounts["/etc/prometheus/rules"] == "./deploy/prometheus/rules"
    graf_mounts = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
    assert graf_mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    assert graf_mounts["/var/lib/grafana/dashboards"] == "./deploy/grafana/dashboards"
    root = Path(__file__).parents[2]
    for mounts in (prom_mounts, graf_mounts):
        for source in mounts.values():
            if source.startswith("./"):
                assert (root / source).exists(), source
