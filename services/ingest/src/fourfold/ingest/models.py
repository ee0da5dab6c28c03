"""Ingest's tables (in its own schema, set as the search_path)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table

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
