"""Alembic environment of the incentives schema: the shared runner does the work."""

from fourfold.db.migrations import run_env
from fourfold.incentives.models import metadata

run_env(metadata)
