"""Two processes on one database: the CLI importing while the bot runs, two replicas migrating."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.store import schema
from bot.store.db import PostgresDatabase, Row, SQLiteDatabase
from bot.store.schema import Migration, migrate
from tests.store_backends import PG_SERVER, fresh_store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]


async def test_a_read_then_write_transaction_survives_another_process_writing(tmp_path: Path) -> None:
    path = tmp_path / "guildhall.db"
    db = await SQLiteDatabase.connect(str(path))
    try:
        await db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        await db.execute("INSERT INTO counters (name, n) VALUES ('posts', 1)")
        other = sqlite3.connect(path, timeout=0, isolation_level=None)  # the CLI, giving up at once
        try:
            async with db.transaction() as tx:
                row = await tx.fetchone("SELECT n FROM counters WHERE name = 'posts'")
                assert row == (1,)
                # The other process writes between our read and our write. It must wait for us (a real
                # one would, for its busy timeout) rather than make our write fail with "database is locked".
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("INSERT INTO counters (name, n) VALUES ('imported', 1)")
                await tx.execute("UPDATE counters SET n = ? WHERE name = 'posts'", (row[0] + 1,))
            other.execute("INSERT INTO counters (name, n) VALUES ('imported', 1)")  # now it may
        finally:
            other.close()
        assert await db.fetchall("SELECT name, n FROM counters ORDER BY name") == [("imported", 1), ("posts", 2)]
    finally:
        await db.close()


class _StaleMigrationList:
    """A database whose first read of ``schema_migrations`` predates another process's migration run:
    what a process that started at the same time as another one sees."""

    def __init__(self, db: Any, stale: list[Row]) -> None:
        self._db = db
        self._stale = stale
        self.dialect = db.dialect

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(await self._db.execute(sql, params))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._db.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        if sql == "SELECT name FROM schema_migrations":
            return self._stale
        rows: list[Row] = await self._db.fetchall(sql, params)
        return rows

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = await self._db.fetchone(sql, params)
        return row

    def transaction(self, **kwargs: Any) -> Any:
        return self._db.transaction(**kwargs)

    async def close(self) -> None:
        await self._db.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_migration_applied_by_another_process_meanwhile_is_not_run_again(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fresh_store(backend) as store:
        monkeypatch.setattr(
            schema,
            "_EXTRA",
            [
                Migration("test-0001-notes", ("CREATE TABLE IF NOT EXISTS test_notes (note_id TEXT PRIMARY KEY)",)),
                # Not idempotent by itself: run twice, it fails with "duplicate column".
                Migration("test-0002-notes-author", ("ALTER TABLE test_notes ADD COLUMN author TEXT",)),
            ],
        )
        before = await store.db.fetchall("SELECT name FROM schema_migrations")
        assert await migrate(store.db) == ["test-0001-notes", "test-0002-notes-author"]  # the other process
        # This process read the list before the other one finished: nothing is applied twice.
        assert await migrate(_StaleMigrationList(store.db, before)) == []
        await store.db.execute("INSERT INTO test_notes (note_id, author) VALUES (?, ?)", ("n1", "U1"))
        assert await store.db.fetchall("SELECT note_id, author FROM test_notes") == [("n1", "U1")]


@pytest.mark.services
async def test_processes_starting_together_on_a_new_postgresql_database_all_migrate_it() -> None:
    import asyncio

    async with fresh_store("postgresql") as store:
        row = await store.db.fetchone("SELECT current_database()")
        assert row is not None
        url = f"{PG_SERVER.rsplit('/', 1)[0]}/{row[0]}"
        await store.db.execute("DROP SCHEMA public CASCADE")  # back to a brand-new database
        await store.db.execute("CREATE SCHEMA public")
        dbs = [await PostgresDatabase.connect(url, max_size=2) for _ in range(4)]
        try:
            applied = await asyncio.gather(*[migrate(db) for db in dbs])
        finally:
            for db in dbs:
                await db.close()
        names = [name for run in applied for name in run]
        assert sorted(names) == sorted(m.name for m in schema.all_migrations())  # each exactly once
