"""Many rows in one statement: `INSERT … SELECT … FROM ROWS FROM (json_array_elements…)`.

One parameter per column, holding the column's values as ONE JSON array (text, encoded by
orjson in one call), unpacked in SQL by `json_array_elements_text` (cast to the column's
type) or `json_array_elements` (JSON columns). Not SQLAlchemy's `executemany`, which binds
every value of every row in Python; and not an array parameter per column
(`unnest(:col)`), which asyncpg encodes element by element with Python-level ABC isinstance
checks — 3.3 million calls for 67,000 events in the incentives profile (issue #13).

What each type needs to travel as JSON text:
- instants (`timestamptz`) go as UTC: a datetime may carry an offset PostgreSQL's input
  refuses (pydantic accepts -17:46; PostgreSQL at most ±15:59); a naive one is UTC, as
  asyncpg reads it;
- `Decimal` goes as its exact text (orjson has no decimal);
- `bytea` goes as hex, decoded in SQL;
- a float that is not finite goes as text (orjson would write NaN and ±inf as null);
- SQL NULL is JSON null, except in JSON columns, where None is the JSON `null` as
  SQLAlchemy's JSON types store it;
- a JSON column's value given as `bytes` is a document already encoded (by orjson, say)
  and goes in as it is, not encoded again (health-scoring writes its documents so).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    any_,
    cast,
    func,
    literal,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine


def any_of(values: Sequence[Any], element: TypeEngine[Any] | None = None) -> ColumnElement[Any]:
    """`= ANY(…)` over one JSON array parameter (strings unless `element` says otherwise):
    one statement text whatever the number of values, where an expanding IN list is
    re-rendered per execution, and per list length. The values travel as one orjson text,
    not as an array parameter asyncpg would check element by element; PostgreSQL unpacks
    them (`ARRAY(SELECT json_array_elements_text(…))`) into the array ANY compares with.
    Strings are compared as text, never cast to a bounded varchar (an explicit cast would
    cut a longer value to a prefix)."""
    kind = element if element is not None and not isinstance(element, String) else None
    unpacked: ColumnElement[Any] = func.json_array_elements_text(
        cast(literal(orjson.dumps(list(values)).decode(), Text()), JSON())
    )
    if kind is not None:
        unpacked = cast(unpacked, kind)
    array = func.array(select(unpacked).scalar_subquery())
    return any_(type_coerce(array, ARRAY(kind if kind is not None else Text())))


Encoder = Callable[[list[Any]], str]


def _plain(values: list[Any]) -> str:
    return orjson.dumps(values).decode()


def _decimal_text(value: Any) -> str:
    # orjson's `default`: called only for what it cannot encode itself (Decimal)
    if isinstance(value, Decimal):
        return str(value)  # exact; PostgreSQL's numeric reads the exponent form too
    raise TypeError(f"{type(value).__name__} is not a number")


def _numbers(values: list[Any]) -> str:
    return orjson.dumps(values, default=_decimal_text).decode()


def _documents(values: list[Any]) -> str:
    # bytes are JSON already (orjson itself would refuse them): embedded as they are
    return orjson.dumps([orjson.Fragment(v) if type(v) is bytes else v for v in values]).decode()


def _floats(values: list[Any]) -> str:
    return orjson.dumps(
        [v if v is None or math.isfinite(v) else str(v) for v in values]  # 'nan', 'inf'
    ).decode()


def _instants(values: list[Any]) -> str:
    # inline, not a function per value: a third of the cost (0.19 against 0.75 µs each)
    return orjson.dumps(
        [v if v is None or v.tzinfo is None else v.astimezone(UTC) for v in values],
        option=orjson.OPT_NAIVE_UTC,
    ).decode()


def _hex(values: list[Any]) -> str:
    return orjson.dumps([None if v is None else v.hex() for v in values]).decode()


def _column(table: Table, name: str) -> tuple[str, str, Encoder]:
    """(unpacking function, SQL expression of the row's value, encoder of the column's
    values) for a column. Strings are read as text: the INSERT's assignment checks lengths."""
    kind = table.c[name].type
    value = f'r."{name}"'
    if isinstance(kind, JSON):
        if kind.none_as_null:
            # None is written as the JSON null; SQL NULL would need its own path
            raise TypeError(f"{table.name}.{name}: JSON columns with none_as_null=True")
        cast = f"CAST({value} AS jsonb)" if isinstance(kind, JSONB) else value
        return "json_array_elements", cast, _documents
    if isinstance(kind, String):
        return "json_array_elements_text", value, _plain
    if isinstance(kind, LargeBinary):
        return "json_array_elements_text", f"decode({value}, 'hex')", _hex
    if isinstance(kind, Float):
        return "json_array_elements_text", f"CAST({value} AS double precision)", _floats
    if isinstance(kind, BigInteger):
        return "json_array_elements_text", f"CAST({value} AS bigint)", _plain
    if isinstance(kind, Integer):
        return "json_array_elements_text", f"CAST({value} AS integer)", _plain
    if isinstance(kind, Numeric):
        return "json_array_elements_text", f"CAST({value} AS numeric)", _numbers
    if isinstance(kind, DateTime) and kind.timezone:
        return "json_array_elements_text", f"CAST({value} AS timestamptz)", _instants
    raise TypeError(f"{table.name}.{name}: no JSON transport for {kind!r}")


class UnnestInsert:
    """All rows of `table` in one statement. `columns` defaults to every column that is not
    an identity; with `conflict` (a unique column), an upsert replacing the other columns."""

    def __init__(
        self, table: Table, *, columns: Iterable[str] | None = None, conflict: str | None = None
    ) -> None:
        names = (
            tuple(columns)
            if columns is not None
            else tuple(c.name for c in table.c if c.identity is None)
        )
        self.names = names
        described = [_column(table, n) for n in names]
        self.encoders = {n: encode for n, (_, _, encode) in zip(names, described, strict=True)}
        quoted = ", ".join(f'"{n}"' for n in names)
        values = ", ".join(value for _, value, _ in described)
        unpack = ", ".join(
            f"{function}(CAST(:{n} AS json))"
            for n, (function, _, _) in zip(names, described, strict=True)
        )
        # WITH ORDINALITY … ORDER BY: rows go in (and take identity values) in the order
        # given, which the outbox relies on to publish in order.
        sql = (
            f'INSERT INTO "{table.name}" ({quoted}) SELECT {values} '
            f"FROM ROWS FROM ({unpack}) WITH ORDINALITY AS r({quoted}, ordinal) "
            "ORDER BY r.ordinal"
        )
        if conflict is not None:
            replaced = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in names if n != conflict)
            sql += f' ON CONFLICT ("{conflict}") DO UPDATE SET {replaced}'
        self.statement = text(sql)

    def parameters(self, rows: Sequence[dict[str, Any]]) -> dict[str, str]:
        """One JSON array (text) per column, the rows' values in their order."""
        return {name: encode([row[name] for row in rows]) for name, encode in self.encoders.items()}

    async def execute(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        """Insert `rows` (nothing to do when empty) in the session's transaction."""
        if rows:
            await session.execute(self.statement, self.parameters(rows))
