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


def _bad_event_while_handling_an_oserror() -> None:
    try:
        raise ConnectionResetError("unrelated, already handled")
    except OSError:
        raise ValueError("the event is bad") from None


def test_an_error_raised_while_handling_an_oserror_is_not_transient() -> None:
    with pytest.raises(ValueError, match="the event is bad") as caught:
        _bad_event_while_handling_an_oserror()
    assert caught.value.__context__ is not None
    assert not is_transient(caught.value)
