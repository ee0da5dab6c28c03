"""The consumer's stored offsets: it runs in offsets mode from this revision on.

Each batch's transaction stores every partition's next offset here instead of an inbox row
per event (docs/runtime.md, "Offsets mode"). The handler is idempotent by key: an event is
kept once per (source, id) (the events table's primary key) and an entry once per identity
(its uuid5 primary key), and an event already kept earns nothing again. So an event id that
reaches the broker twice has one effect. On the first start after the upgrade the table is
empty and the consumer resumes from the group's committed offsets, as before. The inbox
stays: its rows from before are pruned past the retention as they were.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
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
