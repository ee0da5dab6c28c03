"""The one-statement bulk insert: how each column type travels, and what it refuses."""

from __future__ import annotations

import pytest
from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table
from sqlalchemy.dialects.postgresql import JSONB

from fourfold.db.bulk import UnnestInsert


def test_each_column_travels_as_one_json_array_and_rows_keep_their_order() -> None:
    table = Table(
        "t",
        MetaData(),
        Column("k", String(10), primary_key=True),
        Column("n", Integer),
        Column("x", Float),
        Column("doc", JSON),
        Column("bin", JSONB),
    )
    insert = UnnestInsert(table, conflict="k")
    sql = str(insert.statement)
    assert "json_array_elements_text(CAST(:k AS json))" in sql
    assert 'CAST(r."n" AS integer)' in sql
    assert 'CAST(r."x" AS double precision)' in sql
    assert "json_array_elements(CAST(:doc AS json))" in sql
    assert 'CAST(r."bin" AS jsonb)' in sql
    assert "WITH ORDINALITY" in sql
    assert sql.index("ORDER BY r.ordinal") < sql.index("ON CONFLICT")
    params = insert.parameters([{"k": "a", "n": 1, "x": 0.5, "doc": None, "bin": {"a": 1}}])
    assert params == {"k": '["a"]', "n": "[1]", "x": "[0.5]", "doc": "[null]", "bin": '[{"a":1}]'}


def test_a_json_column_storing_sql_null_is_refused() -> None:
    table = Table("t", MetaData(), Column("doc", JSON(none_as_null=True)))
    with pytest.raises(TypeError, match="none_as_null"):
        UnnestInsert(table)


def test_a_json_column_takes_bytes_as_a_document_already_encoded() -> None:
    table = Table("t", MetaData(), Column("doc", JSON), Column("bin", JSONB))
    params = UnnestInsert(table).parameters(
        [{"doc": b'{"a": [1, 2.50]}', "bin": b"null"}, {"doc": {"b": None}, "bin": None}]
    )
    assert params == {"doc": '[{"a": [1, 2.50]},{"b":null}]', "bin": "[null,null]"}
