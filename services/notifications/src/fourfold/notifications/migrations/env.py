"""Alembic environment of the notifications schema: the shared runner does the work."""

from fourfold.db.migrations import run_env
from fourfold.notifications.models import metadata

run_env(metadata)
