"""Async SQLAlchemy engine and session factory on asyncpg."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine


def _json_dumps(value: Any) -> str:
    """JSON/JSONB bind values encoded with orjson (stdlib json was a hot spot per row)."""
    return orjson.dumps(value).decode()


def create_engine(
    url: str, *, schema: str | None = None, pool_size: int = 10, max_overflow: int = 10
) -> AsyncEngine:
    """One engine per process; `schema` becomes the search_path, so tables need no prefix.

    Tables are declared without a schema and every service's engine points its search_path
    at the service's own schema: tests then isolate themselves with a fresh schema name.
    """
    connect_args = {"server_settings": {"search_path": schema}} if schema else {}
    return _create_async_engine(
        url,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def asyncpg_dsn(url: str) -> str:
    """The same URL in the form asyncpg and psql accept (no `+asyncpg` driver suffix)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
