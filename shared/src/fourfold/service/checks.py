"""Readiness probes for the broker and the database."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def database_problem(engine: AsyncEngine) -> str | None:
    try:
        async with asyncio.timeout(2), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"database unreachable: {type(exc).__name__}"
    return None


async def broker_problem(bootstrap_servers: str) -> str | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000)
    try:
        async with asyncio.timeout(3):
            await admin.start()
            await admin.list_topics()
    except Exception as exc:
        return f"broker unreachable: {type(exc).__name__}"
    finally:
        await admin.close()
    return None
