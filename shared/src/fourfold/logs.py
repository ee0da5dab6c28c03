"""Structured JSON logs with the event id (and other context) carried in a contextvar."""

from __future__ import annotations

import contextlib
import logging
import sys
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

_log_context: ContextVar[dict[str, Any] | None] = ContextVar("fourfold_log_context", default=None)


def log_context(**fields: Any) -> contextlib.AbstractContextManager[None]:
    """Add fields (e.g. event_id, topic) to every log line written inside the block."""
    return _LogFields(fields)


class _LogFields(contextlib.AbstractContextManager[None]):
    """`log_context`'s block: a class, not a generator (the shell enters one per request)."""

    __slots__ = ("_fields", "_token")

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = fields

    def __enter__(self) -> None:
        current = _log_context.get()
        self._token = _log_context.set({**current, **self._fields} if current else self._fields)

    def __exit__(self, *_: object) -> None:
        _log_context.reset(self._token)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self._service
        for key, value in (_log_context.get() or {}).items():
            setattr(record, key, value)
        return True


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    """Route every logger to stderr, as JSON lines unless `json` is false."""
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    # uvicorn configures its own plain-text handlers before it builds the app: send its
    # lines (start, stop, access, a traceback it still catches) through ours instead.
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True


UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
