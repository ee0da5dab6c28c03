"""Strings PostgreSQL can store, checked once at the edge of every service.

PostgreSQL `text` holds no NUL, and UTF-8 has no unpaired surrogates (JSON's `"\\ud800"`
decodes to one): either would fail in the driver as a 500. The shell refuses such path and
query parameters (`fourfold.service.edge`); request bodies are refused by their models,
which subclass `RequestModel`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator

UNSTORABLE = "must not contain NUL (\\u0000) or an unpaired surrogate"


def storable(value: str) -> bool:
    """Whether PostgreSQL text can hold `value`."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _all_storable(value: Any) -> bool:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, BaseModel):
        return True  # a nested RequestModel checks its own fields
    if isinstance(value, dict):
        return all(_all_storable(k) and _all_storable(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return all(_all_storable(item) for item in value)
    return True


class RequestModel(BaseModel):
    """Base of every request body model: a string field (or a string inside a list or a
    dict field) PostgreSQL cannot store fails validation naming the field (422)."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable_strings(cls, value: Any) -> Any:
        if not _all_storable(value):
            raise ValueError(UNSTORABLE)
        return value


__all__ = ["UNSTORABLE", "RequestModel", "storable"]
