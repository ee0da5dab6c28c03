"""`UnnestInsert` on real PostgreSQL: every column type it carries comes back as written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

from fourfold.db.bulk import UnnestInsert, any_of
from fourfold.db.engine import create_engine, session_factory

pytestmark = pytest.mark.integration

metadata = MetaData()
kinds = Table(
    "bulk_kinds",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("k", String(64), unique=True, nullable=False),
    Column("label", String(200), nullable=True),
    Column("amount", Numeric(30, 10), nullable=True),
    Column("at", DateTime(timezone=True), nullable=True),
    Column("big", BigInteger, nullable=True),
    Column("small", Integer, nullable=True),
    Column("ratio", Float, nullable=True),
    Column("doc", JSON, nullable=True),
    Column("bin", JSONB, nullable=True),
    Column("raw", LargeBinary, nullable=True),
)


@pytest.fixture
async def bulk_engine(database_url: str, fresh_schema: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, schema=fresh_schema)
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{fresh_schema}"'))
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def insert(engine: AsyncEngine, insert: UnnestInsert, rows: list[dict[str, Any]]) -> None:
    async with session_factory(engine)() as session, session.begin():
        await insert.execute(session, rows)


async def stored(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(kinds).order_by(kinds.c.id))).all())


def row(k: str, **values: Any) -> dict[str, Any]:
    blank = {c.name: None for c in kinds.c if c.identity is None}
    return blank | {"k": k} | values


FAR_WEST = timezone(-timedelta(hours=17, minutes=46))  # a valid offset PostgreSQL refuses


async def test_every_column_type_round_trips_exactly(bulk_engine: AsyncEngine) -> None:
    written = [
        row(
            "all",
            label='it\'s "quoted" \\ back\\slashed, naïve ünïcode 漢字 🎉\n\ttabbed',
            amount=Decimal("123456789012345678.0123456789"),
            at=datetime(2026, 3, 1, 4, 5, 6, 789012, tzinfo=FAR_WEST),
            big=2**62 + 1,
            small=-(2**31),
            ratio=0.1 + 0.2,
            doc={"nested": [1, "two", None, {"q": "\"'\\"}], "n": 1.5},
            bin={"b": [True, False], "s": "ü"},
            raw=bytes(range(256)),
        ),
        row("tiny", amount=Decimal("-0.0000000001"), ratio=float("-inf"), small=0, raw=b""),
        row("sci", amount=Decimal("1E+3"), ratio=float("nan"), at=datetime(2026, 1, 1)),  # noqa: DTZ001 (naive on purpose)
        row("nulls"),
    ]
    await insert(bulk_engine, UnnestInsert(kinds), written)
    rows = await stored(bulk_engine)
    assert [r.k for r in rows] == ["all", "tiny", "sci", "nulls"]
    first, tiny, sci, nulls = rows
    assert first.label == written[0]["label"]
    assert first.amount == written[0]["amount"]
    assert str(first.amount) == "123456789012345678.0123456789"
    assert first.at == written[0]["at"]  # the same instant
    assert first.at.utcoffset() == timedelta(0)
    assert (first.big, first.small, first.ratio) == (2**62 + 1, -(2**31), 0.1 + 0.2)
    assert first.doc == written[0]["doc"]
    assert first.bin == written[0]["bin"]
    assert first.raw == bytes(range(256))
    assert (tiny.amount, tiny.ratio, tiny.small, tiny.raw) == (
        Decimal("-0.0000000001"),
        float("-inf"),
        0,
        b"",
    )
    assert sci.amount == 1000
    assert sci.ratio != sci.ratio  # NaN, not NULL
    assert sci.at == datetime(2026, 1, 1, tzinfo=UTC)  # naive is UTC, as asyncpg reads it
    # SQL NULL everywhere but the JSON columns, where None is the JSON null
    assert [getattr(nulls, c) for c in ("label", "amount", "at", "big", "small", "ratio")] == [
        None
    ] * 6
    assert nulls.raw is None
    async with bulk_engine.connect() as connection:
        kinds_of_null = (
            await connection.execute(
                text("SELECT doc::text, bin::text FROM bulk_kinds WHERE k = 'nulls'")
            )
        ).one()
    assert tuple(kinds_of_null) == ("null", "null")


async def test_documents_given_as_bytes_are_stored_as_written(bulk_engine: AsyncEngine) -> None:
    """bytes in a JSON column are JSON already: json keeps their text, jsonb parses them."""
    encoded = '{"z": 1, "a": [1.50, "é\\n"], "n": null}'.encode()
    await insert(
        bulk_engine,
        UnnestInsert(kinds, columns=("k", "doc", "bin")),
        [
            {"k": "bytes", "doc": encoded, "bin": encoded},
            {"k": "dict", "doc": {"v": 1}, "bin": b"[]"},
        ],
    )
    rows = {r.k: (r.doc, r.bin) for r in await stored(bulk_engine)}
    assert rows == {
        "bytes": ({"z": 1, "a": [1.5, "é\n"], "n": None},) * 2,
        "dict": ({"v": 1}, []),
    }
    async with bulk_engine.connect() as connection:
        kept = await connection.scalar(text("SELECT doc::text FROM bulk_kinds WHERE k = 'bytes'"))
    assert kept == encoded.decode()


async def test_an_empty_batch_writes_nothing(bulk_engine: AsyncEngine) -> None:
    await insert(bulk_engine, UnnestInsert(kinds), [])
    assert await stored(bulk_engine) == []


async def test_identity_values_follow_the_order_of_the_rows(bulk_engine: AsyncEngine) -> None:
    keys = [f"k{(n * 7919) % 1000:04d}" for n in range(1000)]  # deliberately unsorted
    await insert(
        bulk_engine,
        UnnestInsert(kinds, columns=("k", "small")),
        [{"k": k, "small": n} for n, k in enumerate(keys)],
    )
    rows = await stored(bulk_engine)
    assert [r.k for r in rows] == keys
    assert [r.small for r in rows] == list(range(1000))


async def test_an_upsert_replaces_the_other_columns(bulk_engine: AsyncEngine) -> None:
    upsert = UnnestInsert(kinds, columns=("k", "label", "amount", "doc"), conflict="k")
    await insert(
        bulk_engine,
        upsert,
        [
            {"k": "a", "label": "first", "amount": Decimal("1.5"), "doc": {"v": 1}},
            {"k": "b", "label": "kept", "amount": None, "doc": [1]},
        ],
    )
    await insert(
        bulk_engine,
        upsert,
        [
            {"k": "a", "label": None, "amount": Decimal("2.25"), "doc": {"v": 2}},
            {"k": "c", "label": "new", "amount": Decimal("0"), "doc": None},
        ],
    )
    rows = {r.k: (r.label, r.amount, r.doc) for r in await stored(bulk_engine)}
    assert rows == {
        "a": (None, Decimal("2.25"), {"v": 2}),
        "b": ("kept", None, [1]),
        "c": ("new", Decimal("0"), None),
    }


async def test_a_value_too_long_for_its_column_is_refused(bulk_engine: AsyncEngine) -> None:
    with pytest.raises(Exception, match="too long"):
        await insert(bulk_engine, UnnestInsert(kinds, columns=("k",)), [{"k": "x" * 65}])


async def test_any_of_matches_exactly_the_values_given(bulk_engine: AsyncEngine) -> None:
    odd = 'quote " backslash \\ newline \n é {a,b} NULL'
    await insert(
        bulk_engine,
        UnnestInsert(kinds),
        [row("plain", big=1), row(odd, big=2), row("x" * 64, big=3), row("NULL", big=4)],
    )

    async def keys(where: Any) -> list[str]:
        async with bulk_engine.connect() as connection:
            query = select(kinds.c.k).where(where).order_by(kinds.c.id)
            return list((await connection.execute(query)).scalars())

    assert await keys(kinds.c.k == any_of(["plain", odd, "absent"])) == ["plain", odd]
    # a longer value is not cut to the column's length: it matches nothing
    assert await keys(kinds.c.k == any_of(["x" * 65], String(64))) == []
    assert await keys(kinds.c.k == any_of(["x" * 64, "NULL"], String(64))) == ["x" * 64, "NULL"]
    assert await keys(kinds.c.big == any_of([2, 4, 2**40], BigInteger())) == [odd, "NULL"]
    assert await keys(kinds.c.k == any_of([])) == []
    assert await keys(kinds.c.big == any_of([], BigInteger())) == []


def test_any_of_is_one_statement_text_whatever_the_number_of_values() -> None:
    one = select(kinds.c.k).where(kinds.c.k == any_of(["a"]))
    many = select(kinds.c.k).where(kinds.c.k == any_of([str(n) for n in range(500)]))
    assert str(one) == str(many)
