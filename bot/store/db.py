"""Database drivers: the few operations the store needs, for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQL is written once with ``?`` placeholders and portable syntax (``INSERT ... ON CONFLICT``); the
PostgreSQL driver rewrites placeholders to ``$n``. Timestamps are stored as epoch seconds
(``DOUBLE PRECISION``) so both engines compare and index them the same way.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

Row = tuple[Any, ...]


class Executor(Protocol):
    """Statement execution, either autocommitted or inside a transaction."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the affected row count where the engine reports it."""

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return all rows as tuples."""

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query and return the first row, or None."""


class Database(Executor, Protocol):
    """A connection (pool) with transactions."""

    dialect: str

    def transaction(self) -> Any:
        """``async with db.transaction() as tx:`` - tx is an :class:`Executor`."""

    async def close(self) -> None:
        """Close connections."""


class SQLiteDatabase:
    """aiosqlite with WAL; one connection, serialized by a lock so transactions never interleave."""

    dialect = "sqlite"

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, path: str) -> SQLiteDatabase:
        """Open (creating folders) and tune the database file; ``:memory:`` works too."""
        import aiosqlite

        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        # WAL lets readers run beside the writer; NORMAL sync is durable at transaction granularity
        # in WAL mode and is what makes batched imports fast.
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA temp_store=MEMORY")
        await conn.execute("PRAGMA cache_size=-65536")
        return cls(conn)

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        cur = await self._conn.execute(sql, tuple(params))
        count = int(cur.rowcount)
        await cur.close()
        return count

    async def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, [tuple(r) for r in rows])

    async def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]:
        cur = await self._conn.execute(sql, tuple(params))
        rows = await cur.fetchall()
        await cur.close()
        return [tuple(r) for r in rows]

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._lock:
            return await self._execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._lock:
            await self._conn.execute("BEGIN")
            try:
                await self._executemany(sql, rows)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._lock:
            return await self._fetchall(sql, params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SQLiteTx]:
        async with self._lock:
            await self._conn.execute("BEGIN")
            try:
                yield _SQLiteTx(self)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def close(self) -> None:
        await self._conn.close()


class _SQLiteTx:
    """Statements inside a SQLite transaction (the lock is already held)."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self._db._execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._db._executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self._db._fetchall(sql, params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self._db._fetchall(sql, params)
        return rows[0] if rows else None


_PLACEHOLDER = re.compile(r"\?")
_SQL_CACHE: dict[str, str] = {}


def to_postgres_sql(sql: str) -> str:
    """Rewrite ``?`` placeholders to ``$1..$n`` (our SQL never has ``?`` inside literals)."""
    cached = _SQL_CACHE.get(sql)
    if cached is None:
        counter = iter(range(1, 10_000))
        cached = _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)
        _SQL_CACHE[sql] = cached
    return cached


def _pg_count(status: str) -> int:
    parts = status.split()
    return int(parts[-1]) if parts and parts[-1].isdigit() else 0


def _no_nul(value: Any) -> Any:
    # PostgreSQL text cannot hold U+0000 (it rejects the whole statement); SQLite can. Ids and
    # lookups from bad input must not crash the PostgreSQL store, so NUL becomes U+FFFD, as
    # ``clean_text`` does for message text on both stores.
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value):
        return [_no_nul(v) for v in value]
    return value


def _pg_params(params: Sequence[Any]) -> list[Any]:
    return [_no_nul(p) for p in params]


class PostgresDatabase:
    """asyncpg connection pool."""

    dialect = "postgresql"

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 1, max_size: int = 10) -> PostgresDatabase:
        """Create a pool for ``postgresql://`` URLs."""
        import asyncpg

        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)
        return cls(pool)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._pool.acquire() as conn:
            return _pg_count(await conn.execute(to_postgres_sql(sql), *_pg_params(params)))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(to_postgres_sql(sql), [_pg_params(r) for r in rows])

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._pool.acquire() as conn:
            return [tuple(r) for r in await conn.fetch(to_postgres_sql(sql), *_pg_params(params))]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(to_postgres_sql(sql), *_pg_params(params))
            return tuple(row) if row is not None else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTx]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PostgresTx(conn)

    async def close(self) -> None:
        await self._pool.close()


class _PostgresTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return _pg_count(await self._conn.execute(to_postgres_sql(sql), *_pg_params(params)))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(to_postgres_sql(sql), [_pg_params(r) for r in rows])

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(r) for r in await self._conn.fetch(to_postgres_sql(sql), *_pg_params(params))]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = await self._conn.fetchrow(to_postgres_sql(sql), *_pg_params(params))
        return tuple(row) if row is not None else None


async def open_database(url: str) -> SQLiteDatabase | PostgresDatabase:
    """Open a database from a URL: ``sqlite:///relative.db``, ``sqlite:////abs.db``,
    ``sqlite://:memory:`` or ``postgresql://user@host/db``."""
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if path.startswith("/"):
            path = path[1:]  # sqlite:///rel.db -> rel.db; sqlite:////abs.db -> /abs.db
        return await SQLiteDatabase.connect(path or ":memory:")
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase.connect(url)
    raise ValueError(f"unsupported database URL: {url}")
