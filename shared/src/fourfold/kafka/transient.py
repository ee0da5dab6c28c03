"""Which failures are the infrastructure's (retry later) rather than the event's (dead-letter).

A database or broker that is briefly away must not send a whole poll to the DLQ: those
polls are retried, unchanged, once it is back. Only failures that follow the event go to
`<topic>.dlq`.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from fourfold.errors import Unavailable


class InfrastructureUnavailable(Exception):
    """The poll could not be applied because a dependency was down; retry it later."""


def is_transient(exc: BaseException) -> bool:
    """True when `exc`, or what it was raised from, says a connection or server went away.

    Only `__cause__` is followed: an error raised while handling an unrelated OSError says
    nothing about the infrastructure.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError | TimeoutError | Unavailable | InterfaceError):
            return True
        if isinstance(current, OperationalError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if (
            type(current).__module__.startswith("asyncpg")
            and "Connection" in type(current).__name__
        ):
            return True
        current = current.__cause__
    return False
