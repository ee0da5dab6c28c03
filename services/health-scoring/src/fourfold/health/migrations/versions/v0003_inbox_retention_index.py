"""Index the inbox by `processed_at` so that pruning past the retention finds old rows.

A btree, not BRIN: pruning frees the pages at the front of the table and new rows land in
them, so block ranges stop being in time order and a BRIN summary soon matches every page.
Built without CONCURRENTLY: migrations run in one transaction under the schema's advisory
lock; the build blocks inbox writes for as long as it takes on the table at hand.

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
    op.create_index("inbox_processed_at_idx", "inbox", ["processed_at"])


def downgrade() -> None:
    op.drop_index("inbox_processed_at_idx", table_name="inbox")
