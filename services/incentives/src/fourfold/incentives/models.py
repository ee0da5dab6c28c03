"""Tables of the incentives schema (declared without a schema: the engine's search_path
points at the service's own one).

- events: the lifecycle events consumed (subscriptions, milestones, partner changes, band
  changes, tiers, certifications), so recalculation and what-if never re-read Kafka. The
  timelines (partner of record, terms and ARR, band, tier, certifications over time) are
  folded from it, and exposed as views of the same names for operators. The payload is
  `json` (kept as sent, validated, not decomposed): it is written once per event and read
  whole; only the adoption sweep and the views look inside, with the same operators.
- programs: every uploaded program version, its YAML, and when it was activated.
- entries: the ledger, append-only (a trigger refuses UPDATE, DELETE and TRUNCATE);
  unique per (source event, rule, partner, reversed entry) through its primary key: the
  entry id is the uuid5 of that identity, and `ledger.append_entries` refuses any other.
- entry_transitions / statement_transitions / dispute_events: status histories, append-only.
- disputes: one row per dispute opened by a partner on an entry.
- recalculations: a record of each retroactive recalculation run.
- consumer_offsets: the consumer runs in offsets mode (docs/runtime.md, "Offsets mode").
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from fourfold.db.runtime_tables import consumer_offsets_table, inbox_table, outbox_table

metadata = MetaData()
inbox = inbox_table(metadata)
"""Written by the consumer up to migration 0003 (inbox mode); now only pruned."""
outbox = outbox_table(metadata)
consumer_offsets = consumer_offsets_table(metadata)
"""The consumer's next offset per partition, stored in each batch's transaction."""

AMOUNT = Numeric(22, 4)

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("event_source", String(256), nullable=False),
    Column("event_id", String(256), nullable=False),
    Column("type", String(64), nullable=False),
    Column("customer_id", String(128), nullable=True),
    Column("partner_id", String(128), nullable=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("payload", JSON, nullable=False),
    Index("events_identity_idx", "event_source", "event_id", unique=True),
    Index("events_customer_idx", "customer_id", "time"),
    Index("events_partner_idx", "partner_id", postgresql_where=text("customer_id IS NULL")),
)

programs = Table(
    "programs",
    metadata,
    Column("version", String(128), primary_key=True),
    Column("program_id", String(128), nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("effective_to", Date, nullable=True),
    Column("source", Text, nullable=False),
    Column("uploaded_by", String(256), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=True),
)

entries = Table(
    "entries",
    metadata,
    Column("entry_id", String(64), primary_key=True),
    Column("seq", BigInteger, Identity(), nullable=False),
    Column("partner_id", String(128), nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", AMOUNT, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("period", String(7), nullable=False),
    Column("earned_period", String(7), nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("payable_at", DateTime(timezone=True), nullable=False),
    Column("source_event_id", String(300), nullable=False),
    Column("program_id", String(128), nullable=False),
    Column("program_version", String(128), nullable=False),
    Column("reverses_entry_id", String(64), nullable=True),
    Column("inputs", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("entries_partner_seq_idx", "partner_id", "seq"),
    Index("entries_customer_idx", "customer_id"),
    Index("entries_cap_idx", "partner_id", "earned_period", "currency"),
)

entry_transitions = Table(
    "entry_transitions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("entry_id", String(64), nullable=False),
    Column("partner_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(1000), nullable=True),
    Column("actor", String(256), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("entry_transitions_entry_idx", "entry_id", "id"),
)

statement_transitions = Table(
    "statement_transitions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("partner_id", String(128), nullable=False),
    Column("period", String(7), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payout_reference", String(256), nullable=True),
    Column("payout", JSONB, nullable=True),
    Column("actor", String(256), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("statement_transitions_idx", "partner_id", "period", "id"),
)

disputes = Table(
    "disputes",
    metadata,
    Column("dispute_id", String(64), primary_key=True),
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("partner_id", String(128), nullable=False),
    Column("entry_id", String(64), nullable=False),
    Column("opened_by", String(256), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Index("disputes_partner_idx", "partner_id", "seq"),
)

dispute_events = Table(
    "dispute_events",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("dispute_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("author", String(256), nullable=False),
    Column("author_role", String(16), nullable=False),
    Column("text", String(2000), nullable=False),
    Column("adjustment_entry_id", String(64), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("dispute_events_dispute_idx", "dispute_id", "id"),
)

recalculations = Table(
    "recalculations",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("program_version", String(128), nullable=False),
    Column("range_from", DateTime(timezone=True), nullable=False),
    Column("range_to", DateTime(timezone=True), nullable=False),
    Column("requested_by", String(256), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("adjustments", Integer, nullable=False),
    Column("summary", JSONB, nullable=False),
)
