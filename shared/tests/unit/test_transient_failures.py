"""Which failures pause a consumer (the infrastructure's) and which dead-letter (the event's)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from fourfold.errors import Unavailable
from fourfold.kafka.transient import is_transient


def caused_by(outer: Exception, inner: BaseException) -> Exception:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        Unavailable("broker down"),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        caused_by(RuntimeError("wrapped"), ConnectionResetError()),
    ],
)
def test_infrastructure_failures_are_transient(exc: Exception) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad data"),
        KeyError("missing"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        caused_by(RuntimeError("wrapped"), ZeroDivisionError()),
    ],
)
def test_event_failures_are_not_transient(exc: Exception) -> None:
    assert not is_transient(exc)
