"""The consumer's stored offsets: it runs in offsets mode from this revision on.

Each batch's transaction stores every partition's next offset here instead of an inbox row
per event (docs/runtime.md, "Offsets mode"); the folds are idempotent, so an event id that
reaches the broker twice has one effect. On the first start after the upgrade the table is
empty and the consumer resumes from the group's committed offsets, as before. The inbox
stays: its rows from before are pruned past the retention as they were.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consumer_offsets",
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("topic", sa.String(249), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("consumer_offsets")
