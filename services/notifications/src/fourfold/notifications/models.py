"""Tables of the notifications schema (declared without a schema: the engine's search_path
points at the service's own one).

- snapshots: the latest known state of each customer (a JSON document the rules read) and
  when time alone next may change what the rules answer for it.
- nudges: every nudge; at most one not resolved, and at most one not cleared, per
  (customer, rule), both enforced by partial unique indexes.
- channels: a partner's delivery channels (webhook, slack, email) and webhook secrets.
- partner_quota: immediate deliveries per partner per UTC day (the throttle; its row lock
  is the partner's lock while deliveries are planned).
- digests / digest_items: what the throttle held back, per (partner, window); a nudge is in
  one digest per delivery round.
- deliveries / delivery_attempts: one row per (nudge and its delivery round, or digest;
  channel) and its attempts. A nudge's round is 1 when raised and goes up by one each time
  it comes back at the end of a snooze (and is sent again).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from fourfold.db.runtime_tables import inbox_table, outbox_table

metadata = MetaData()
inbox = inbox_table(metadata)
outbox = outbox_table(metadata)

snapshots = Table(
    "snapshots",
    metadata,
    Column("customer_id", String(128), primary_key=True),
    Column("partner_id", String(128), nullable=True),
    Column("doc", JSON, nullable=False),  # written and read whole
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # the earliest instant time alone may change a rule's answer (rules.next_due): the
    # scheduler evaluates the snapshots due by now, not all of them
    Column("next_due_at", DateTime(timezone=True), nullable=True),
    Index("snapshots_due_idx", "next_due_at", postgresql_where=text("next_due_at IS NOT NULL")),
)

nudges = Table(
    "nudges",
    metadata,
    Column("nudge_id", String(64), primary_key=True),
    Column("customer_id", String(128), nullable=False),
    Column("partner_id", String(128), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("facts", JSONB, nullable=False),
    Column("title", String(200), nullable=False),
    Column("next_step", String(2000), nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("snoozed_until", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolution", String(32), nullable=True),
    Column("cleared_at", DateTime(timezone=True), nullable=True),
    Column("routing", String(16), nullable=False),  # immediate, digest or feed (no channel)
    Column("delivery_round", Integer, nullable=False, server_default="1"),
    Index(
        "nudges_one_open",
        "customer_id",
        "rule",
        unique=True,
        postgresql_where=text("status <> 'resolved'"),
    ),
    Index(
        "nudges_one_current",
        "customer_id",
        "rule",
        unique=True,
        postgresql_where=text("cleared_at IS NULL"),
    ),
    Index("nudges_feed_idx", "partner_id", "raised_at", "nudge_id"),
    Index("nudges_snooze_idx", "snoozed_until", postgresql_where=text("status = 'snoozed'")),
)

channels = Table(
    "channels",
    metadata,
    Column("channel_id", String(64), primary_key=True),
    Column("partner_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("target", String(2048), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", String(500), nullable=True),
    Column("secrets", JSONB, nullable=False, server_default="[]"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("channels_partner_idx", "partner_id"),
)

partner_quota = Table(
    "partner_quota",
    metadata,
    Column("partner_id", String(128), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("used", Integer, nullable=False),
)

digests = Table(
    "digests",
    metadata,
    Column("digest_id", String(64), primary_key=True),
    Column("partner_id", String(128), nullable=False),
    Column("window_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # collecting, closed
    Column("size", Integer, nullable=False, server_default="0"),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Index("digests_partner_window", "partner_id", "window_at", unique=True),
    Index("digests_due_idx", "window_at", postgresql_where=text("status = 'collecting'")),
)

digest_items = Table(
    "digest_items",
    metadata,
    Column("digest_id", String(64), ForeignKey("digests.digest_id"), primary_key=True),
    Column("nudge_id", String(64), primary_key=True),
    Column("nudge_round", Integer, nullable=False, server_default="1"),
    Index("digest_items_nudge", "nudge_id", "nudge_round", unique=True),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", String(64), primary_key=True),  # the webhook-id of every attempt
    Column("partner_id", String(128), nullable=False),
    Column("channel_id", String(64), ForeignKey("channels.channel_id"), nullable=False),
    Column("kind", String(16), nullable=False),  # nudge or digest
    Column("nudge_id", String(64), nullable=True),
    Column("nudge_round", Integer, nullable=True),  # the nudge's delivery round (nudge kind)
    Column("digest_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),  # pending, sending, delivered, dead, cancelled
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(2000), nullable=True),
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("dead_at", DateTime(timezone=True), nullable=True),
    Index("deliveries_nudge_channel", "nudge_id", "nudge_round", "channel_id", unique=True),
    Index("deliveries_digest_channel", "digest_id", "channel_id", unique=True),
    Index(
        "deliveries_due_idx",
        "next_attempt_at",
        postgresql_where=text("status IN ('pending', 'sending')"),
    ),
    Index("deliveries_partner_idx", "partner_id", "created_at", "delivery_id"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("delivery_id", String(64), ForeignKey("deliveries.delivery_id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("outcome", String(16), nullable=False),  # delivered, failed, gone, dead
    Column("error", String(2000), nullable=True),
    Index("delivery_attempts_delivery_idx", "delivery_id", "id"),
)
