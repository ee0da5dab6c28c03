"""The connections the group claims run on: asyncpg itself, without SQLAlchemy's session.

A group's claim is one statement in a transaction held open until the broker's ack
(`intake.accept_group`); on SQLAlchemy's pooled session the same group also paid a ping per
checkout, the session's state machine and the result's processing: 2.4× the client CPU
of the bare asyncpg transaction per group (docs/benchmarks.md, issue #13, session 7).

The ping is replaced by a retry of BEGIN: a connection the server closed while it sat in the
pool (a PostgreSQL restart, an idle timeout) fails on BEGIN, before anything is claimed,
and the transaction starts again once on a new connection. A failure after BEGIN is the
group's: it rolls back and its requests answer 503.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from fourfold.db.engine import asyncpg_dsn

# SQLSTATE classes that say the server or the connection is away, not that the statement
# is wrong: 08 connection exception, 53 insufficient resources, 57 operator intervention
# (shutdown, "cannot connect now" while starting).
_TRANSIENT_CLASSES = ("08", "53", "57")
APPLICATION_NAME = "fourfold-ingest-claims"
"""How the claim connections show in `pg_stat_activity`."""


def is_connection_failure(exc: BaseException) -> bool:
    """True when asyncpg says the connection or the server is gone (retry later)."""
    if isinstance(exc, OSError | TimeoutError):
        return True
    # ConnectionDoesNotExistError (a connection lost mid-statement) is SQLSTATE 08003.
    return isinstance(exc, asyncpg.PostgresError) and str(exc.sqlstate)[:2] in _TRANSIENT_CLASSES


async def _nothing_to_reset(connection: Any) -> None:
    """The release's reset: a claim leaves no session state (no SET, LISTEN, cursor or
    advisory lock), so asyncpg's reset query would be one more round trip per group for
    nothing. An open transaction is still rolled back by asyncpg before this is called."""


class ClaimConnections:
    """A small asyncpg pool; `transaction()` yields a connection inside BEGIN … COMMIT."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, schema: str | None, size: int) -> ClaimConnections:
        """Connects lazily (min_size 0): each group in flight opens the connection it needs."""
        settings = {"application_name": APPLICATION_NAME}
        if schema:
            settings["search_path"] = schema
        pool = await asyncpg.create_pool(
            asyncpg_dsn(url),
            min_size=0,
            max_size=size,
            server_settings=settings,
            reset=_nothing_to_reset,
        )
        return cls(pool)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """A connection in a transaction that commits when the block ends, or rolls back."""
        for attempt in (1, 2):
            connection = await self._pool.acquire()
            try:
                transaction = connection.transaction()
                try:
                    await transaction.start()
                except Exception as exc:
                    if attempt == 1 and is_connection_failure(exc):
                        continue  # closed while pooled: nothing claimed yet, start again
                    raise
                try:
                    yield connection
                except BaseException:
                    # A lost connection cannot roll back (asyncpg has already detached it
                    # from the pool); release() copes with either.
                    with contextlib.suppress(Exception):
                        await transaction.rollback()
                    raise
                await transaction.commit()
                return
            finally:
                await self._pool.release(connection)
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        await self._pool.close()
