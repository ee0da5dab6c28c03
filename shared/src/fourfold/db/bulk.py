"""Many rows in one statement: `INSERT … SELECT … FROM unnest(:col1, :col2, …)`.

One array parameter per column instead of SQLAlchemy's `executemany`, which binds (and
JSON-encodes) every value of every row in Python: a batch of rows costs one statement and
one round trip whatever its size. JSON and JSONB values travel as orjson-encoded text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    BindParameter,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    any_,
    literal,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine


def any_of(values: Sequence[Any], element: TypeEngine[Any] | None = None) -> ColumnElement[Any]:
    """`= ANY(:values)` with one array parameter (strings unless `element` says otherwise):
    one statement text whatever the number of values, where an expanding IN list is
    re-rendered per execution, and per list length."""
    array: BindParameter[list[Any]] = literal(list(values), ARRAY(element or String()))
    return any_(array)


def _array_type(table: Table, name: str) -> str:
    """The PostgreSQL array type a column's values travel in. Strings and JSON go as text
    (the INSERT's assignment then checks lengths, JSON is cast in the SELECT)."""
    kind = table.c[name].type
    if isinstance(kind, (String, JSON)):
        return "text[]"
    if isinstance(kind, LargeBinary):
        return "bytea[]"
    if isinstance(kind, Float):
        return "double precision[]"
    if isinstance(kind, BigInteger):
        return "bigint[]"
    if isinstance(kind, Integer):
        return "integer[]"
    if isinstance(kind, Numeric):
        return "numeric[]"
    if isinstance(kind, DateTime):
        return "timestamptz[]" if kind.timezone else "timestamp[]"
    raise TypeError(f"{table.name}.{name}: no array type for {kind!r}")


def _json_cast(table: Table, name: str) -> str:
    """The type a JSON column's text is cast to in the SELECT (json or jsonb)."""
    kind = table.c[name].type
    if isinstance(kind, JSON) and kind.none_as_null:
        # parameters() writes None as the JSON null; SQL NULL would need its own path
        raise TypeError(f"{table.name}.{name}: JSON columns with none_as_null=True")
    return "jsonb" if isinstance(kind, JSONB) else "json"


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
        self.json = {n: _json_cast(table, n) for n in names if isinstance(table.c[n].type, JSON)}
        quoted = ", ".join(f'"{n}"' for n in names)
        arrays = ", ".join(f"CAST(:{n} AS {_array_type(table, n)})" for n in names)
        values = ", ".join(
            f'CAST(r."{n}" AS {self.json[n]})' if n in self.json else f'r."{n}"' for n in names
        )
        # WITH ORDINALITY … ORDER BY: rows go in (and take identity values) in the order
        # given, which the outbox relies on to publish in order.
        sql = (
            f'INSERT INTO "{table.name}" ({quoted}) SELECT {values} '
            f"FROM unnest({arrays}) WITH ORDINALITY AS r({quoted}, ordinal) ORDER BY r.ordinal"
        )
        if conflict is not None:
            replaced = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in names if n != conflict)
            sql += f' ON CONFLICT ("{conflict}") DO UPDATE SET {replaced}'
        self.statement = text(sql)

    def parameters(self, rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
        """One list per column. JSON values, None included, encode as the JSON text
        SQLAlchemy's JSON types would store (None is the JSON `null`)."""
        return {
            name: [orjson.dumps(row[name]).decode() for row in rows]
            if name in self.json
            else [row[name] for row in rows]
            for name in self.names
        }

    async def execute(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        """Insert `rows` (nothing to do when empty) in the session's transaction."""
        if rows:
            await session.execute(self.statement, self.parameters(rows))
