"""Due snapshots: the scheduler evaluates the snapshots time may have changed, not all.

`snapshots.next_due_at` is the earliest instant at which time alone may change a rule's
answer for the customer (NULL: never; rows written before this revision are NULL and are
evaluated by the first pass of every scheduler, which walks all snapshots); snoozes that
end are found through `nudges_snooze_idx`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATEMENTS = (
    "ALTER TABLE snapshots ADD COLUMN next_due_at TIMESTAMP WITH TIME ZONE",
    "CREATE INDEX snapshots_due_idx ON snapshots (next_due_at) WHERE next_due_at IS NOT NULL",
    "CREATE INDEX nudges_snooze_idx ON nudges (snoozed_until) WHERE status = 'snoozed'",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX nudges_snooze_idx")
    op.execute("DROP INDEX snapshots_due_idx")
    op.execute("ALTER TABLE snapshots DROP COLUMN next_due_at")
