"""Cheaper writes per batch: event payloads as `json`, no second unique index on entries.

- events.payload becomes `json` (was `jsonb`): a payload is written once per kept event and
  read back whole (history, recalculation, what-if); only the adoption sweep and the
  timeline views look inside it, and `->` / `->>` work on `json` alike. Storing text skips
  the conversion to the binary form (a third of the INSERT's cost on the benchmark data).
  The views read the column, so they are dropped and re-created from their own definitions.
- entries_identity_idx goes: it repeated the primary key. An entry's id is the uuid5 of its
  identity (source event, rule, partner, reversed entry), `ledger.append_entries` refuses
  an entry whose id is not, so the primary key is the one-entry-per-identity constraint.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMELINE_VIEWS = (
    "customer_partner_history",
    "customer_terms_history",
    "customer_band_history",
    "partner_tier_history",
    "partner_certification_history",
)


def _retype_payload(kind: str) -> None:
    connection = op.get_bind()
    definition_of = sa.text("SELECT pg_get_viewdef(CAST(:name AS regclass))")
    definitions = {
        name: str(connection.scalar(definition_of, {"name": name})).strip().rstrip(";")
        for name in TIMELINE_VIEWS
    }
    for name in TIMELINE_VIEWS:
        op.execute(f"DROP VIEW {name}")
    op.execute(f"ALTER TABLE events ALTER COLUMN payload TYPE {kind} USING payload::{kind}")
    for name, definition in definitions.items():
        op.execute(f"CREATE VIEW {name} AS {definition}")


def upgrade() -> None:
    _retype_payload("json")
    op.execute("DROP INDEX entries_identity_idx")


def downgrade() -> None:
    op.execute(
        "CREATE UNIQUE INDEX entries_identity_idx ON entries "
        "(source_event_id, rule, partner_id, reverses_entry_id) NULLS NOT DISTINCT"
    )
    _retype_payload("jsonb")
