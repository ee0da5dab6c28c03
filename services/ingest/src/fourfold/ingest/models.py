"""Ingest's tables (in its own schema, set as the search_path)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

accepted_events = Table(
    "accepted_events",
    metadata,
    Column("source", String(256), primary_key=True),
    Column("id", String(256), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("partition_key", String(256), nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
)

# Webhook adapters: deliveries that did not become events (listed for an operator), the
# partner of record learned per billing-system customer, the last state of a subscription
# for systems that send no previous values (Chargebee).
webhook_unmapped = Table(
    "webhook_unmapped",
    metadata,
    Column("adapter", String(32), primary_key=True),
    Column("event_id", String(256), primary_key=True),
    Column("type", String(128), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

adapter_customers = Table(
    "adapter_customers",
    metadata,
    Column("adapter", String(32), primary_key=True),
    Column("customer_id", String(256), primary_key=True),
    Column("partner_id", String(128), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

adapter_subscriptions = Table(
    "adapter_subscriptions",
    metadata,
    Column("adapter", String(32), primary_key=True),
    Column("subscription_id", String(256), primary_key=True),
    Column("state", JSONB, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
)
