"""The database session a route gets, the same in every service that runs `run_consuming`.

`ReadSession` is a session for reads (no transaction held open beyond what a query needs);
`WriteSession` is the route's one transaction: committed when the route returns, rolled back
if it raises, and after the commit `app.state.wake_writers()` wakes the outbox relay (and any
other waker the service added, e.g. the delivery worker) so staged events go out at once.
Both read `app.state.sessions`, set by `fourfold.service.consuming.run_consuming`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for the route's reads, closed when the response is done."""
    async with request.app.state.sessions() as session:
        yield session


async def write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The route's one transaction: committed when the route returns, rolled back if it
    raises; the relay (and the service's other wakers) are woken after the commit."""
    async with request.app.state.sessions() as session, session.begin():
        yield session
    request.app.state.wake_writers()


ReadSession = Annotated[AsyncSession, Depends(read_session)]
WriteSession = Annotated[AsyncSession, Depends(write_session, scope="function")]
