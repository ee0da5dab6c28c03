"""Incentives tables: events kept, programs, the append-only ledger and its histories.

The ledger is append-only by the database itself: a trigger refuses UPDATE and DELETE on
every row and TRUNCATE on the table, for entries and each status history. Corrections are
new entries; statuses are new transitions.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = (
    "entries",
    "entry_transitions",
    "statement_transitions",
    "disputes",
    "dispute_events",
)

TIMELINES = {
    "customer_partner_history": """
        SELECT customer_id, COALESCE(payload->'data'->>'effective_at',
                                     payload->'data'->>'start_date') AS effective,
               payload->'data'->>'partner_id' AS partner_id, event_id
        FROM events WHERE type IN ('subscription.created', 'customer.partner_changed')""",
    "customer_terms_history": """
        SELECT customer_id, time, type, payload->'data'->'mrr'->>'amount' AS mrr,
               payload->'data'->'mrr'->>'currency' AS currency, event_id
        FROM events WHERE type LIKE 'subscription.%'""",
    "customer_band_history": """
        SELECT customer_id, (payload->'data'->>'scored_at')::timestamptz AS scored_at,
               payload->'data'->>'band' AS band, event_id
        FROM events WHERE type = 'health.changed'""",
    "partner_tier_history": """
        SELECT partner_id, (payload->'data'->>'effective_at')::timestamptz AS effective_at,
               payload->'data'->>'tier' AS tier, event_id
        FROM events WHERE type = 'partner.tier_changed'""",
    "partner_certification_history": """
        SELECT partner_id, (payload->'data'->>'certified_at')::timestamptz AS certified_at,
               payload->'data'->>'certification' AS certification, event_id
        FROM events WHERE type = 'partner.certified'""",
}


def _runtime_tables() -> None:
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("event_source", sa.String(256), primary_key=True),
        sa.Column("event_id", sa.String(256), primary_key=True),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("inbox_processed_at_idx", "inbox", ["processed_at"])
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


def upgrade() -> None:
    _runtime_tables()
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_source", sa.String(256), nullable=False),
        sa.Column("event_id", sa.String(256), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=True),
        sa.Column("partner_id", sa.String(128), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
    )
    op.create_index("events_identity_idx", "events", ["event_source", "event_id"], unique=True)
    op.create_index("events_customer_idx", "events", ["customer_id", "time"])
    # partner-level facts only (tiers, certifications): customer events are found by customer
    op.create_index(
        "events_partner_idx",
        "events",
        ["partner_id"],
        postgresql_where=sa.text("customer_id IS NULL"),
    )
    op.create_table(
        "programs",
        sa.Column("version", sa.String(128), primary_key=True),
        sa.Column("program_id", sa.String(128), nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("effective_to", sa.Date, nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("uploaded_by", sa.String(256), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "entries",
        sa.Column("entry_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("partner_id", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.Numeric(22, 4), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("earned_period", sa.String(7), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payable_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_event_id", sa.String(300), nullable=False),
        sa.Column("program_id", sa.String(128), nullable=False),
        sa.Column("program_version", sa.String(128), nullable=False),
        sa.Column("reverses_entry_id", sa.String(64), nullable=True),
        sa.Column("inputs", JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("kind IN ('accrual', 'reversal', 'adjustment')", name="entries_kind"),
    )
    op.execute(
        "CREATE UNIQUE INDEX entries_identity_idx ON entries "
        "(source_event_id, rule, partner_id, reverses_entry_id) NULLS NOT DISTINCT"
    )
    op.create_index("entries_partner_seq_idx", "entries", ["partner_id", "seq"])
    op.create_index("entries_customer_idx", "entries", ["customer_id"])
    op.create_index("entries_cap_idx", "entries", ["partner_id", "earned_period", "currency"])
    op.create_table(
        "entry_transitions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("partner_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("entry_transitions_entry_idx", "entry_transitions", ["entry_id", "id"])
    op.create_table(
        "statement_transitions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("partner_id", sa.String(128), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payout_reference", sa.String(256), nullable=True),
        sa.Column("payout", JSONB, nullable=True),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "statement_transitions_idx", "statement_transitions", ["partner_id", "period", "id"]
    )
    op.execute(
        "CREATE UNIQUE INDEX statement_paid_once_idx ON statement_transitions (partner_id, period) "
        "WHERE status = 'paid'"
    )
    op.execute(
        "CREATE UNIQUE INDEX statement_payout_reference_idx ON statement_transitions "
        "(payout_reference) WHERE payout_reference IS NOT NULL"
    )
    op.create_table(
        "disputes",
        sa.Column("dispute_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("partner_id", sa.String(128), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("opened_by", sa.String(256), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("disputes_partner_idx", "disputes", ["partner_id", "seq"])
    op.create_table(
        "dispute_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("dispute_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("author", sa.String(256), nullable=False),
        sa.Column("author_role", sa.String(16), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("adjustment_entry_id", sa.String(64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("dispute_events_dispute_idx", "dispute_events", ["dispute_id", "id"])
    op.create_table(
        "recalculations",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("program_version", sa.String(128), nullable=False),
        sa.Column("range_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("range_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(256), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("adjustments", sa.Integer, nullable=False),
        sa.Column("summary", JSONB, nullable=False),
    )
    op.execute(
        """
        CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'record a correction as a new row';
        END $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()"
        )
    for name, query in TIMELINES.items():
        op.execute(f"CREATE VIEW {name} AS {query}")


def downgrade() -> None:
    for name in TIMELINES:
        op.execute(f"DROP VIEW {name}")
    for table in (
        "recalculations",
        *APPEND_ONLY,
        "programs",
        "events",
        "outbox",
        "inbox",
    ):
        op.drop_table(table)
    op.execute("DROP FUNCTION refuse_change()")
