"""Which asyncpg failures of a claim are the database being away (a 503, retried)."""

from __future__ import annotations

import asyncpg

from fourfold.ingest.claims import is_connection_failure


def test_a_lost_connection_or_a_server_away_is_a_connection_failure() -> None:
    assert is_connection_failure(asyncpg.ConnectionDoesNotExistError("closed mid-statement"))
    assert is_connection_failure(asyncpg.CannotConnectNowError("starting up"))
    assert is_connection_failure(asyncpg.AdminShutdownError("terminating connection"))
    assert is_connection_failure(asyncpg.TooManyConnectionsError("too many clients"))
    assert is_connection_failure(ConnectionRefusedError())
    assert is_connection_failure(TimeoutError())


def test_a_statement_the_database_refuses_is_not() -> None:
    assert not is_connection_failure(asyncpg.UndefinedTableError("no accepted_events"))
    assert not is_connection_failure(asyncpg.UniqueViolationError("duplicate key"))
    assert not is_connection_failure(ValueError("a bug"))
