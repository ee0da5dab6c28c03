"""accepted events: drop `topic`, which the event type already determines

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("accepted_events", "topic")


def downgrade() -> None:
    op.add_column(
        "accepted_events",
        sa.Column("topic", sa.String(249), nullable=False, server_default=""),
    )
