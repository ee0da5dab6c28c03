"""Index the inbox by `processed_at` so that pruning past the retention finds old rows.

BRIN, not btree: rows are appended in time order, so a summary per block range answers
"older than the cutoff" at a tiny fraction of a btree's size and insert cost.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("inbox_processed_at_idx", "inbox", ["processed_at"], postgresql_using="brin")


def downgrade() -> None:
    op.drop_index("inbox_processed_at_idx", table_name="inbox")
