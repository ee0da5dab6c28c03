# Fourfold: every target installs what it needs (uv, then the locked workspace).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest

.PHONY: help install dev test test-unit test-integration test-e2e lint fmt bench wrk schemas clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on some machines)
# every process start would otherwise compile every module again (seconds per start).
$(VENV)/.synced: uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode
	$(PY) -m compileall -q shared/src services/*/src > /dev/null
	@touch $@

install: $(VENV)/.synced ## Install the locked workspace into .venv

dev: install ## Run everything on embedded broker + PostgreSQL with a simulated vendor on a fast clock (Ctrl-C stops; KEEP_STATE=1 keeps the database; SECONDS_PER_DAY=10 sets the pace)
	$(PY) -m fourfold.cli dev $(if $(filter 1 yes true,$(KEEP_STATE)),--keep-state) $(if $(SECONDS_PER_DAY),--seconds-per-day $(SECONDS_PER_DAY))

test: install ## Run every test (unit, integration on the real broker and PostgreSQL, deploy checks)
	$(PYTEST)

test-unit: install ## Only the fast tests without I/O
	$(PYTEST) -m "not integration"

test-integration: install ## Only the tests on the real broker and PostgreSQL
	$(PYTEST) -m integration

test-e2e: install ## Only the cross-service tests (all four services; a compressed simulated month)
	$(PYTEST) -m e2e tests/e2e

lint: install ## ruff check, ruff format --check, mypy strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src services/ingest/src services/health-scoring/src services/incentives/src services/notifications/src

fmt: install ## Format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install wrk ## Benchmarks; figures go to docs/benchmarks.md
	$(PY) bench/ingest_bench.py
	$(PY) bench/health_bench.py
	$(PY) bench/incentives_bench.py
	$(PY) bench/notifications_bench.py
	$(PY) bench/adapters_bench.py
	$(PY) bench/recovery_bench.py
	$(PY) bench/scale_bench.py
	$(PY) bench/roles_bench.py

wrk: ## Install wrk, the HTTP load generator the ingest bench runs in its own process (Debian's package)
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk; fi; }

schemas: install ## Regenerate docs/events/ and docs/openapi/ from the code
	$(PY) -m fourfold.cli schemas docs/events
	$(PY) -m fourfold.dev.openapi docs/openapi

clean: ## Remove the venv, tools, caches and embedded state
	rm -rf $(VENV) $(TOOLS) .state .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
