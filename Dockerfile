# syntax=docker/dockerfile:1.7
#
# One image for every Fourfold service. It installs the whole uv workspace (shared library and
# every service package) from uv.lock; each service runs it with its own command, e.g.
#   uvicorn fourfold.ingest.app:create_app --factory --host 0.0.0.0 --port 8000
# See docs/deploy.md.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# build: resolve and install the locked dependencies, then the workspace packages themselves
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies first (only the lock and the project files), so a code change reuses this layer.
# Every workspace member's pyproject.toml must be copied here (tests/deploy checks it).
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY services/ingest/pyproject.toml services/ingest/pyproject.toml
COPY services/health-scoring/pyproject.toml services/health-scoring/pyproject.toml
COPY services/incentives/pyproject.toml services/incentives/pyproject.toml
COPY services/notifications/pyproject.toml services/notifications/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace

# Then the sources, installed as regular (non-editable) packages into the same venv.
COPY shared/ shared/
COPY services/ingest/ services/ingest/
COPY services/health-scoring/ services/health-scoring/
COPY services/incentives/ services/incentives/
COPY services/notifications/ services/notifications/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# ---------------------------------------------------------------------------------------------
# runtime: the venv only, no uv, no build tools, non-root
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

RUN groupadd --system --gid 10001 fourfold \
    && useradd --system --uid 10001 --gid fourfold --home-dir /app --no-create-home fourfold

COPY --from=build --chown=10001:10001 /app/.venv /app/.venv

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FOURFOLD_STATE_DIR=/tmp/fourfold-state

WORKDIR /app
USER 10001:10001
EXPOSE 8000

# No default service: compose and k8s give each container its own command.
CMD ["python", "-c", "raise SystemExit('pick a service: see docs/deploy.md')"]
