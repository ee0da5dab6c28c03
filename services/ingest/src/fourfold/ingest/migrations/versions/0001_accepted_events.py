"""accepted events: what ingest published, by CloudEvents source + id

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accepted_events",
        sa.Column("source", sa.String(256), primary_key=True),
        sa.Column("id", sa.String(256), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("partition_key", sa.String(256), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("accepted_events")
