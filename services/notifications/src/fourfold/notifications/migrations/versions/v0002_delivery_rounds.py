"""Delivery rounds: a nudge that comes back at the end of a snooze is delivered again.

`nudges.delivery_round` counts the nudge's deliveries (1 when raised, +1 per return);
deliveries and digest items are unique per (nudge, round[, channel]) instead of per nudge,
so a return is one new delivery per channel and a replayed plan of the same round is none.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

# ruff: noqa: E501 (one DDL statement per line, as PostgreSQL prints it)
from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = (
    "ALTER TABLE nudges ADD COLUMN delivery_round INTEGER DEFAULT '1' NOT NULL",
    "ALTER TABLE deliveries ADD COLUMN nudge_round INTEGER",
    "UPDATE deliveries SET nudge_round = 1 WHERE nudge_id IS NOT NULL",
    "DROP INDEX deliveries_nudge_channel",
    "CREATE UNIQUE INDEX deliveries_nudge_channel ON deliveries (nudge_id, nudge_round, channel_id)",
    "ALTER TABLE digest_items ADD COLUMN nudge_round INTEGER DEFAULT '1' NOT NULL",
    "DROP INDEX digest_items_nudge",
    "CREATE UNIQUE INDEX digest_items_nudge ON digest_items (nudge_id, nudge_round)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for statement in (
        "DROP INDEX digest_items_nudge",
        "ALTER TABLE digest_items DROP COLUMN nudge_round",
        "CREATE UNIQUE INDEX digest_items_nudge ON digest_items (nudge_id)",
        "DROP INDEX deliveries_nudge_channel",
        "ALTER TABLE deliveries DROP COLUMN nudge_round",
        "CREATE UNIQUE INDEX deliveries_nudge_channel ON deliveries (nudge_id, channel_id)",
        "ALTER TABLE nudges DROP COLUMN delivery_round",
    ):
        op.execute(statement)
