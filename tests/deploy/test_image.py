"""Dockerfile and .dockerignore: one image builds the whole uv workspace."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dockerfile() -> str:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    return re.sub(r"\\\n\s*", " ", text)  # join continued lines


def instructions(dockerfile: str, name: str) -> list[str]:
    return [
        line.split(None, 1)[1]
        for line in dockerfile.splitlines()
        if line.strip() and line.split(None, 1)[0].upper() == name
    ]


def test_base_image_is_python_311_slim(dockerfile: str) -> None:
    args = dict(a.split("=", 1) for a in instructions(dockerfile, "ARG") if "=" in a)
    bases = [
        re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], f.split()[0])
        for f in instructions(dockerfile, "FROM")
    ]
    assert bases, "no FROM"
    assert set(bases) == {"python:3.11-slim"}


def test_uv_sync_is_frozen_and_without_dev(dockerfile: str) -> None:
    syncs = [r for r in instructions(dockerfile, "RUN") if "uv sync" in r]
    assert syncs
    for run in syncs:
        assert "--frozen" in run, run
        assert "--no-dev" in run, run


def test_every_workspace_member_is_copied(dockerfile: str) -> None:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    members = root["tool"]["uv"]["workspace"]["members"]
    copies = [c.split() for c in instructions(dockerfile, "COPY") if not c.startswith("--from")]
    sources = {src.rstrip("/") for c in copies for src in c[:-1]}
    assert {"pyproject.toml", "uv.lock"} <= sources
    for member in members:
        assert (ROOT / member / "pyproject.toml").exists(), member
        assert f"{member}/pyproject.toml" in sources, f"{member}/pyproject.toml not copied"
        assert member in sources, f"{member}/ sources not copied"


def test_runs_as_non_root_on_port_8000(dockerfile: str, facts: ModuleType) -> None:
    users = instructions(dockerfile, "USER")
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert str(facts.SERVICE_PORT) in instructions(dockerfile, "EXPOSE")


def test_service_packages_exist(facts: ModuleType) -> None:
    # The compose/k8s commands name `fourfold.<pkg>.app`; the package must be in the workspace.
    for command in facts.SERVICES.values():
        module = command[1].split(":")[0]  # fourfold.ingest.app
        pkg = module.split(".")[1]
        found = list(ROOT.glob(f"services/*/src/fourfold/{pkg}/__init__.py"))
        assert found, f"no package for {module}"


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".state", ".env"} <= ignored
    assert not any(p in ignored for p in ("uv.lock", "pyproject.toml", "shared", "services"))
