"""The inbox and outbox tables that every consuming service keeps in its own schema.

- inbox: one row per (source, id) a consumer group has applied; a replay finds it and skips.
  Rows past the retention are deleted by `fourfold.kafka.inbox_retention`, found by the
  index on `processed_at`.
- outbox: events written in the handler's transaction, published by the relay afterwards.
- consumer_offsets: for a consumer in offsets mode (handlers idempotent by key), each
  partition's next offset, written in the batch's transaction instead of inbox rows.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_source", String(256), primary_key=True),
        Column("event_id", String(256), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index("inbox_processed_at_idx", "processed_at"),
    )


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("topic", String(249), nullable=False),
        Column("key", String(256), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False, server_default="{}"),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def consumer_offsets_table(metadata: MetaData) -> Table:
    return Table(
        "consumer_offsets",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("topic", String(249), primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("next_offset", BigInteger, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
