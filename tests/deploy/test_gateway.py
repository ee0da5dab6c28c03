"""The partner portal's one URL: nginx in compose, the Ingress in k8s, Caddy in make dev, all
from the one route table `fourfold.gateway.ROUTES` (`facts.ROUTES`)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fourfold.dev.stack import SERVICES as DEV_SERVICES
from fourfold.gateway import caddy_binary, caddyfile

NGINX_CONF = Path(__file__).resolve().parents[2] / "deploy" / "gateway" / "nginx.conf"


def strip_comments(text: str) -> str:
    return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())


def nginx_routes(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """(upstream variable -> URL, location prefix -> upstream variable) of the server block."""
    text = strip_comments(text)
    upstreams = dict(re.findall(r"\bset\s+\$(\w+)\s+(http://[^;\s]+)\s*;", text))
    routes: dict[str, str] = {}
    for prefix, body in re.findall(r"\blocation\s+(/[^\s{]*)\s*\{([^}]*)\}", text):
        m = re.search(r"\bproxy_pass\s+\$(\w+)\s*;", body)
        if m:
            routes[prefix] = m.group(1)
    return upstreams, routes


def test_nginx_conf_is_balanced() -> None:
    text = strip_comments(NGINX_CONF.read_text(encoding="utf-8"))
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    # Every directive ends with ';' or opens a block.
    for line in text.splitlines():
        line = line.strip()
        if line and not line.endswith((";", "{", "}")) and not line.startswith("'"):
            assert line.endswith("'") or "escape=json" in line, f"unterminated: {line!r}"


def gateway_problems(text: str, services: set[str], facts: ModuleType) -> list[str]:
    upstreams, routes = nginx_routes(text)
    problems, served = [], {}
    for prefix, var in routes.items():
        m = re.fullmatch(r"http://([\w.-]+):(\d+)", upstreams.get(var, ""))
        if not m:
            problems.append(f"{prefix}: ${var} is not an http://host:port upstream")
            continue
        if m.group(1) not in services:
            problems.append(f"{prefix} -> unknown service {m.group(1)}")
        if int(m.group(2)) != facts.SERVICE_PORT:
            problems.append(f"{prefix} -> port {m.group(2)}")
        served[prefix] = m.group(1)
    if served != facts.ROUTES:
        problems.append(f"routes {served} != {facts.ROUTES}")
    return problems


def test_nginx_routes_match_the_contract(compose: dict[str, Any], facts: ModuleType) -> None:
    text = NGINX_CONF.read_text(encoding="utf-8")
    assert gateway_problems(text, set(compose["services"]), facts) == []


def test_every_routed_service_runs_in_make_dev(facts: ModuleType) -> None:
    dev = {spec.name for spec in DEV_SERVICES}
    assert set(facts.ROUTES.values()) <= dev


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("location /v1/partners {", "location /v1/partner {", id="wrong-path"),
        pytest.param("http://ingest:8000;", "http://ingest:8001;", id="wrong-port"),
        pytest.param("http://ingest:8000;", "http://ingestion:8000;", id="unknown-service"),
        pytest.param(
            "location /v1/events {\n            proxy_pass $ingest;",
            "location /v1/events {\n            proxy_pass $health_scoring;",
            id="wrong-service",
        ),
        pytest.param("proxy_pass $ingest;", "proxy_pass $ingst;", id="unset-variable"),
    ],
)
def test_route_check_catches_mistakes(
    compose: dict[str, Any], facts: ModuleType, old: str, new: str
) -> None:
    text = NGINX_CONF.read_text(encoding="utf-8")
    assert old in text
    assert gateway_problems(text.replace(old, new), set(compose["services"]), facts)


def test_nginx_does_not_expose_internal_endpoints() -> None:
    _, routes = nginx_routes(NGINX_CONF.read_text(encoding="utf-8"))
    for prefix in routes:
        assert prefix.startswith("/v1/"), prefix
    text = strip_comments(NGINX_CONF.read_text(encoding="utf-8"))
    assert re.search(r"location\s+/\s*\{[^}]*return\s+404", text), "no catch-all 404"


def test_gateway_in_compose(compose: dict[str, Any], facts: ModuleType) -> None:
    gw = compose["services"]["gateway"]
    assert gw["image"].startswith("nginx:")
    assert "./deploy/gateway/nginx.conf:/etc/nginx/nginx.conf:ro" in gw["volumes"]
    listen = re.search(r"\blisten\s+(\d+)\s*;", NGINX_CONF.read_text(encoding="utf-8"))
    assert listen
    assert any(str(p).endswith(f":{listen.group(1)}") for p in gw["ports"])
    for service in set(facts.ROUTES.values()):
        assert gw["depends_on"][service]["condition"] == "service_healthy"


def test_ingress_routes_match_the_contract(
    k8s_objects: dict[tuple[str, str], Any], facts: ModuleType
) -> None:
    ingress = k8s_objects[("Ingress", "fourfold-gateway")]
    served: dict[str, str] = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["pathType"] == "Prefix"
            backend = path["backend"]["service"]
            service = k8s_objects[("Service", backend["name"])]
            assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
            assert path["path"] not in served, f"duplicate {path['path']}"
            served[path["path"]] = backend["name"]
    assert served == facts.ROUTES


def caddy_routes(text: str) -> dict[str, str]:
    """prefix -> upstream of a generated Caddyfile (`@name path a a/* ...` + its handle)."""
    matchers = dict(re.findall(r"^\t@(\w+) path ([^\n]+)$", text, re.MULTILINE))
    upstreams = dict(re.findall(r"handle @(\w+) \{\s*reverse_proxy (\S+)", text))
    routes: dict[str, str] = {}
    for name, paths in matchers.items():
        if name not in upstreams:
            continue
        listed = paths.split()
        prefixes = [p for p in listed if not p.endswith("/*")]
        assert sorted(f"{p}/*" for p in prefixes) == sorted(set(listed) - set(prefixes)), name
        routes |= {prefix: upstreams[name] for prefix in prefixes}
    return routes


def test_caddyfile_routes_match_the_table(facts: ModuleType) -> None:
    upstreams = {
        s: f"http://127.0.0.1:{9000 + i}" for i, s in enumerate(set(facts.ROUTES.values()))
    }
    text = caddyfile(upstreams, port=8000)
    expected = {p: upstreams[s].removeprefix("http://") for p, s in facts.ROUTES.items()}
    assert caddy_routes(text) == expected


def test_caddyfile_routes_only_to_services_that_run(facts: ModuleType) -> None:
    text = caddyfile({"ingest": "http://127.0.0.1:9001"}, port=8000)
    expected = {p: "127.0.0.1:9001" for p, s in facts.ROUTES.items() if s == "ingest"}
    assert caddy_routes(text) == expected
    assert re.search(r"\thandle \{\n(?:\t\t.*\n)*\t\trespond `[^`]*not_found[^`]*` 404", text)


def caddy_validate(config: Path) -> subprocess.CompletedProcess[str]:
    home = str(config.parent)
    return subprocess.run(
        [str(caddy_binary()), "validate", "--config", str(config), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": home, "XDG_DATA_HOME": home},
        timeout=60,
    )


def test_caddy_accepts_the_generated_caddyfile(facts: ModuleType, tmp_path: Path) -> None:
    services = sorted(set(facts.ROUTES.values()))
    upstreams = {s: f"http://127.0.0.1:{9000 + i}" for i, s in enumerate(services)}
    config = tmp_path / "Caddyfile"
    config.write_text(caddyfile(upstreams, port=8000), encoding="utf-8")
    checked = caddy_validate(config)
    assert checked.returncode == 0, checked.stderr
    broken = config.read_text(encoding="utf-8").replace("reverse_proxy", "reverse_prox", 1)
    config.write_text(broken, encoding="utf-8")
    assert caddy_validate(config).returncode != 0
