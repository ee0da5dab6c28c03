"""Tables of the health-scoring schema (declared without a schema: the engine's search_path
points at the service's own one).

- customers: one row per customer: its folded signals (a JSON document), the fold's bookkeeping, and
  the current result with the columns the book of business filters and sorts on.
- score_history: the result on every change and at least daily; trend reads it back.
- overrides: at most one manual override per customer.
- consumer_offsets: the consumer runs in offsets mode (docs/runtime.md, "Offsets mode").
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB

from fourfold.db.runtime_tables import consumer_offsets_table, inbox_table, outbox_table

metadata = MetaData()
inbox = inbox_table(metadata)
"""Written by the consumer up to migration 0004 (inbox mode); now only pruned."""
outbox = outbox_table(metadata)
consumer_offsets = consumer_offsets_table(metadata)
"""The consumer's next offset per partition, stored in each batch's transaction."""

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(128), primary_key=True),
    Column("partner_id", String(128), nullable=True),
    # json, not jsonb: written and read whole, never queried inside (migration 0002)
    Column("signals", JSON, nullable=False),
    Column("score", Integer, nullable=True),
    Column("computed_score", Integer, nullable=True),
    Column("band", String(16), nullable=False),
    Column("step", String(16), nullable=False),
    Column("trend_7d", Integer, nullable=True),
    Column("trend_30d", Integer, nullable=True),
    Column("arr_amount", Numeric(22, 4), nullable=True),
    Column("arr_currency", String(3), nullable=True),
    Column("scorecard_version", String(128), nullable=False),
    Column("explanation", JSON, nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    Column("history_at", DateTime(timezone=True), nullable=False),
    Column("next_recompute_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Index("customers_partner_idx", "partner_id", "customer_id"),
    Index("customers_next_recompute_idx", "next_recompute_at"),
)

score_history = Table(
    "score_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("customer_id", String(128), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("score", Integer, nullable=True),
    Column("computed_score", Integer, nullable=True),
    Column("band", String(16), nullable=False),
    Column("step", String(16), nullable=False),
    Column("scorecard_version", String(128), nullable=False),
    Column("cause", String(16), nullable=False),
    Column("override", JSONB, nullable=True),
    Index("score_history_customer_at_idx", "customer_id", "at"),
)

overrides = Table(
    "overrides",
    metadata,
    Column("customer_id", String(128), primary_key=True),
    Column("score", Integer, nullable=True),
    Column("band", String(16), nullable=True),
    Column("reason", String(1000), nullable=False),
    Column("set_by", String(256), nullable=True),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
