"""Health-scoring tables: customers, score history, overrides, inbox and outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("event_source", sa.String(256), primary_key=True),
        sa.Column("event_id", sa.String(256), primary_key=True),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default="{}"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(128), primary_key=True),
        sa.Column("partner_id", sa.String(128), nullable=True),
        sa.Column("signals", JSONB, nullable=False),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("computed_score", sa.Integer, nullable=True),
        sa.Column("band", sa.String(16), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("trend_7d", sa.Integer, nullable=True),
        sa.Column("trend_30d", sa.Integer, nullable=True),
        sa.Column("arr_amount", sa.Numeric(22, 4), nullable=True),
        sa.Column("arr_currency", sa.String(3), nullable=True),
        sa.Column("scorecard_version", sa.String(128), nullable=False),
        sa.Column("explanation", JSONB, nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("history_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_recompute_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("customers_partner_idx", "customers", ["partner_id", "customer_id"])
    op.create_index("customers_next_recompute_idx", "customers", ["next_recompute_at"])
    op.create_table(
        "score_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("computed_score", sa.Integer, nullable=True),
        sa.Column("band", sa.String(16), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("scorecard_version", sa.String(128), nullable=False),
        sa.Column("cause", sa.String(16), nullable=False),
        sa.Column("override", JSONB, nullable=True),
    )
    op.create_index("score_history_customer_at_idx", "score_history", ["customer_id", "at"])
    op.create_table(
        "overrides",
        sa.Column("customer_id", sa.String(128), primary_key=True),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("band", sa.String(16), nullable=True),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("set_by", sa.String(256), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("overrides", "score_history", "customers", "outbox", "inbox"):
        op.drop_table(table)
