"""webhook adapters: unmapped deliveries, partners per customer, last subscription state

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_unmapped",
        sa.Column("adapter", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(256), primary_key=True),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("webhook_unmapped_received", "webhook_unmapped", ["received_at"])
    op.create_table(
        "adapter_customers",
        sa.Column("adapter", sa.String(32), primary_key=True),
        sa.Column("customer_id", sa.String(256), primary_key=True),
        sa.Column("partner_id", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "adapter_subscriptions",
        sa.Column("adapter", sa.String(32), primary_key=True),
        sa.Column("subscription_id", sa.String(256), primary_key=True),
        sa.Column("state", JSONB, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("adapter_subscriptions")
    op.drop_table("adapter_customers")
    op.drop_index("webhook_unmapped_received", "webhook_unmapped")
    op.drop_table("webhook_unmapped")
