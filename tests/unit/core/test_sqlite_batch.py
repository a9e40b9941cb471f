"""SQLite statement batches: multi-row inserts leave what executemany leaves; queued transaction writes
keep their order, are read back inside the transaction and roll back whole."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator

import pytest

from bot.store.db import SQLiteDatabase
from bot.store.sqlite_batch import insert_plan, run_many

_TABLE = "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT, n INTEGER NOT NULL, flag INTEGER)"
_UPSERT = (
    "INSERT INTO t (k, v, n, flag) VALUES (?, ?, 1, ?) "
    "ON CONFLICT (k) DO UPDATE SET v = excluded.v || '+' || t.v, n = t.n + 1, flag = COALESCE(excluded.flag, t.flag)"
)


def _rows(count: int, seed: int = 3) -> list[tuple[object, ...]]:
    rng = random.Random(seed)
    # Keys repeat within the batch, so later rows update earlier ones of the same statement.
    return [(f"k{rng.randrange(count // 3 + 1)}", f"v{i}", rng.choice([None, 0, 1])) for i in range(count)]


def _table(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT k, v, n, flag FROM t ORDER BY k").fetchall()


@pytest.mark.parametrize("count", [1, 3, 4, 5, 17, 300, 1367, 2500])
def test_multi_row_upserts_leave_the_rows_executemany_leaves(count: int) -> None:
    plain, batched = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    for conn in (plain, batched):
        conn.execute(_TABLE)
        conn.execute("INSERT INTO t VALUES ('k1', 'stored', 5, 1)")
    rows = _rows(count)
    plain.executemany(_UPSERT, rows)
    run_many(batched, _UPSERT, rows)
    assert _table(batched) == _table(plain)
    assert sum(int(r[2]) for r in _table(batched)) == count + 5  # every row applied exactly once


def test_chunks_stay_under_the_connections_variable_limit() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute(_TABLE)
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 50)  # 16 rows of 3 fit, 64 do not
    rows = [(f"k{i}", "v", 0) for i in range(300)]
    run_many(conn, _UPSERT, rows)
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (300,)


def test_only_plain_one_row_inserts_are_rewritten() -> None:
    plan = insert_plan(_UPSERT)
    assert plan is not None and plan.width == 3 and plan.group == "(?, ?, 1, ?)"
    assert insert_plan("INSERT INTO t (k) VALUES (?) ON CONFLICT (k) DO UPDATE SET v = ?") is None
    assert insert_plan("INSERT INTO t (k, v) SELECT ?, ? WHERE 1") is None
    assert insert_plan("INSERT INTO t (k, v) VALUES (?, lower(?))") is None
    assert insert_plan("UPDATE t SET v = ? WHERE k = ?") is None
    assert insert_plan("INSERT INTO t (k, v) VALUES (?, ?) RETURNING k") is None


def test_a_row_of_the_wrong_width_fails_like_executemany() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute(_TABLE)
    with pytest.raises(sqlite3.ProgrammingError):
        run_many(conn, _UPSERT, [("a", "v", 0)] * 10 + [("b", "v")])


@pytest.fixture
async def db() -> AsyncIterator[SQLiteDatabase]:
    database = await SQLiteDatabase.connect(":memory:")
    await database.execute(_TABLE)
    yield database
    await database.close()


async def test_a_transaction_reads_its_own_queued_writes_in_order(db: SQLiteDatabase) -> None:
    async with db.transaction() as tx:
        await tx.executemany(_UPSERT, [("a", "1", 0), ("b", "1", 0)])
        await tx.executemany(_UPSERT, [("a", "2", None)])
        assert await tx.fetchall("SELECT k, v, n FROM t ORDER BY k") == [("a", "2+1", 2), ("b", "1", 1)]
        assert await tx.execute("DELETE FROM t WHERE k = ?", ("b",)) == 1
        await tx.executemany(_UPSERT, [("c", "1", 1)] * 5)
    assert await db.fetchall("SELECT k, n FROM t ORDER BY k") == [("a", 2), ("c", 5)]


async def test_a_failing_queued_write_rolls_the_whole_transaction_back(db: SQLiteDatabase) -> None:
    await db.executemany(_UPSERT, [("kept", "1", 0)])
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await tx.execute("DELETE FROM t WHERE k = ?", ("kept",))
            await tx.executemany(_UPSERT, [("a", "1", 0)] * 8)
            # NOT NULL violation on n, queued behind good rows; raised when the block ends.
            await tx.executemany("INSERT INTO t (k, v, n) VALUES (?, ?, ?)", [("x", "1", 1), ("y", "1", None)] * 4)
    assert await db.fetchall("SELECT k FROM t") == [("kept",)]
    # The connection is usable afterwards: no transaction was left open.
    async with db.transaction() as tx:
        await tx.executemany(_UPSERT, [("after", "1", 0)])
    assert await db.fetchall("SELECT k FROM t ORDER BY k") == [("after",), ("kept",)]


async def test_an_error_raised_by_the_caller_rolls_back_queued_and_sent_writes(db: SQLiteDatabase) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.executemany(_UPSERT, [("sent", "1", 0)])
            await tx.fetchall("SELECT 1")  # sends BEGIN and the queued write
            await tx.executemany(_UPSERT, [("queued", "1", 0)])
            raise RuntimeError("caller gave up")
    assert await db.fetchall("SELECT k FROM t") == []


async def test_executemany_outside_a_transaction_is_all_or_nothing(db: SQLiteDatabase) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await db.executemany(
            "INSERT INTO t (k, v, n) VALUES (?, ?, ?)", [(f"k{i}", "v", 1) for i in range(40)] + [("z", "v", None)]
        )
    assert await db.fetchall("SELECT COUNT(*) FROM t") == [(0,)]
