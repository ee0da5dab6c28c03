"""Alembic environment of the health-scoring schema: the shared runner does the work."""

from fourfold.db.migrations import run_env
from fourfold.health.models import metadata

run_env(metadata)
