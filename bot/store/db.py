"""Database drivers: the few operations the store needs, for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQL is written once with ``?`` placeholders and portable syntax (``INSERT ... ON CONFLICT``); the
PostgreSQL driver rewrites placeholders to ``$n``. Timestamps are stored as epoch seconds
(``DOUBLE PRECISION``) so both engines compare and index them the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from bot.store.sqlite_batch import Op, rollback_if_open, run_ops
from bot.valid_text import storable_text

log = logging.getLogger(__name__)

Row = tuple[Any, ...]

# Defaults of ``[store]`` ``command_timeout_s`` and ``busy_timeout_s`` (bot/config.py StoreSettings).
# A statement PostgreSQL has not answered within a minute is far past every query the bot runs (the
# largest, a 20,000-event recorder batch, takes a few seconds) and most likely sits on a connection
# the network dropped without a FIN/RST: TCP would wait for minutes to hours.
DEFAULT_COMMAND_TIMEOUT_S = 60.0
# How long a SQLite write waits for another process's write lock (``guildhall import`` beside the
# bot) before failing with "database is locked". sqlite3's default of 5 s leaves a slow disk (an SD
# card, network storage) little room over an import batch's commit.
DEFAULT_BUSY_TIMEOUT_S = 30.0
# Each statement of maintenance work (migrations, retention purges): they touch whole tables of a
# big install and may run minutes; still bounded, so a dropped connection cannot hang them forever.
MAINTENANCE_TIMEOUT_S = 3600.0


class StoreTimeoutError(TimeoutError):
    """The database did not answer a statement in time (PostgreSQL ``command_timeout_s``).

    A :class:`TimeoutError`, so callers that handle timeouts keep doing so; the message says which
    setting bounded the wait, where asyncpg's own error has no message at all.
    """


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

    def transaction(self, *, timeout_s: float | None = None) -> Any:
        """``async with db.transaction() as tx:`` - tx is an :class:`Executor`. ``timeout_s`` bounds
        each statement instead of the store's ``command_timeout_s`` (PostgreSQL; maintenance work
        such as migrations and retention purges may run longer than any live query)."""

    async def close(self) -> None:
        """Close connections."""

    async def scrub(self) -> None:
        """After an erasure (``/forget-me``, a retention purge): make the erased text unreadable in
        the database's files as far as the engine allows, not only in its tables."""


class SQLiteDatabase:
    """aiosqlite with WAL; one connection, serialized by a lock so transactions never interleave.

    WAL checkpoints (copying committed pages back into the database file, with an fsync) run on a
    second connection in the background instead of inside whichever commit crosses the threshold:
    a checkpoint at 1,000 pages stalled the writer for most of a bulk import's time, while a
    passive checkpoint on its own thread overlaps with the next batches. The writer keeps a high
    automatic threshold as a safety net should the background task ever stop.
    """

    dialect = "sqlite"

    # Pages (4 KiB) the WAL may grow to before the writer checkpoints by itself.
    WRITER_AUTOCHECKPOINT = 20_000
    CHECKPOINT_INTERVAL_S = 0.5

    def __init__(
        self,
        conn: Any,
        checkpointer: Any = None,
        *,
        path: str | None = None,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        #: The database file; None for ``:memory:``.
        self.path = None if path is None or path == ":memory:" else str(Path(path).absolute())
        #: How long a statement waits for another process's write lock (``store.busy_timeout_s``).
        self.busy_timeout_s = busy_timeout_s
        self._running_since: float | None = None  # monotonic start of the call now on the connection
        self._tx_since: float | None = None  # monotonic start of the open transaction, if any
        self._last_done = 0.0  # monotonic end of the last call on the connection
        self._tx_maintenance = False  # the open transaction is a migration or a purge (may run long)
        self._prober: ThreadPoolExecutor | None = None  # created by the first probe_file()
        self._closed = False
        self._checkpointer = checkpointer
        self._writes = 0  # commits since the last background checkpoint
        self._checkpoint_task: asyncio.Task[None] | None = None
        if checkpointer is not None:
            self._checkpoint_task = asyncio.create_task(self._checkpoint_loop(), name="sqlite-checkpoint")

    @classmethod
    async def connect(cls, path: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> SQLiteDatabase:
        """Open (creating folders) and tune the database file; ``:memory:`` works too.

        Args:
            path: The database file, or ``:memory:``.
            busy_timeout_s: How long a statement waits for another process's write lock before it
                fails with "database is locked". The wait happens on the connection's thread, so
                the event loop keeps running.
        """
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Multi-row inserts add up to five prepared statements per INSERT (bot/store/sqlite_batch.py);
        # a larger cache than sqlite3's default 128 keeps them from evicting the everyday queries.
        conn = await _connect_sqlite(path, isolation_level=None, cached_statements=512, timeout=busy_timeout_s)
        checkpointer = None
        try:
            # WAL lets readers run beside the writer; NORMAL sync is durable at transaction granularity
            # in WAL mode and is what makes batched imports fast.
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA temp_store=MEMORY")
            await conn.execute("PRAGMA cache_size=-65536")
            # Erased text (a deleted message, /forget-me, a retention purge) is overwritten with
            # zeros in the file, not left in free space where a copy of the file would still hold it.
            # Some builds (Debian's) default to it already; others (python.org, macOS) do not.
            await conn.execute("PRAGMA secure_delete=ON")
            if path != ":memory:":
                await conn.execute(f"PRAGMA wal_autocheckpoint={cls.WRITER_AUTOCHECKPOINT}")
                # Once a checkpoint has caught up, the WAL file is truncated back to this size.
                await conn.execute("PRAGMA journal_size_limit=67108864")
                checkpointer = await _connect_sqlite(path, isolation_level=None)
                await checkpointer.execute("PRAGMA busy_timeout=1000")
        except BaseException:
            # Failed or cancelled half-way (SIGTERM during start-up): each connection runs a
            # non-daemon thread, and one left open keeps the process from ever exiting.
            for opened in (checkpointer, conn):
                if opened is not None:
                    await asyncio.shield(opened.close())
            raise
        return cls(conn, checkpointer, path=path, busy_timeout_s=busy_timeout_s)

    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(self.CHECKPOINT_INTERVAL_S)
            if not self._writes:
                continue
            self._writes = 0
            await self.checkpoint()

    async def checkpoint(self) -> None:
        """Copy committed WAL pages into the database file without blocking the writer (PASSIVE)."""
        if self._checkpointer is None:
            return
        try:
            cur = await self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            await cur.close()
        except Exception as exc:  # noqa: BLE001 - a failed checkpoint is retried; the writer's own threshold remains
            log.warning("background WAL checkpoint failed: %r", exc)

    async def _run(self, ops: Sequence[Op]) -> Any:
        """Run ``ops`` in one call on the connection's thread."""
        conn = self._conn
        # ``conn._conn`` is the sqlite3 connection, used only on its own thread.
        # aiosqlite has no public "run this callable on the connection's thread"; ``_execute`` has
        # been that entry point since its first release (pinned to 0.21-0.22 in pyproject.toml).
        self._running_since = time.monotonic()
        try:
            return await conn._execute(lambda: run_ops(conn._conn, ops))
        finally:
            self._running_since = None
            self._last_done = time.monotonic()

    def running_s(self) -> float | None:
        """Seconds the call now on the connection has run (or waited for a lock); None when idle."""
        since = self._running_since
        return None if since is None else time.monotonic() - since

    def transaction_idle_s(self) -> tuple[float, bool] | None:
        """Seconds the open transaction has held the connection without a statement running on it
        (since it began or since its last statement ended), and whether it is maintenance (a
        migration or purge, allowed to run long); None when no transaction is open or a statement
        is running. A busy transaction runs statements back to back: its idle time stays small."""
        since = self._tx_since
        if since is None or self._running_since is not None:
            return None
        return time.monotonic() - max(since, self._last_done), self._tx_maintenance

    async def probe_file(self, timeout_s: float) -> None:
        """Read the database file's schema through a short-lived read-only connection of its own.

        For health checks: a statement waiting (up to :attr:`busy_timeout_s`) for another process's
        write lock holds this store's only connection, so a probe sent through it waits as long.
        In WAL mode a reader is let in beside a writer, so this answers at once while the file is
        there and readable. It runs on a thread of its own: a hung file system ties up that thread
        only, and the next probes time out behind it. Does nothing for ``:memory:`` or once closed
        (then the connection itself answers that it is closed).

        Raises:
            sqlite3.Error: The file is gone, unreadable or not a database.
            TimeoutError: No answer within ``timeout_s``.
        """
        if self.path is None or self._closed:
            return
        if self._prober is None:
            self._prober = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-probe")
        # ``mode=ro`` never creates the file: a missing one is an error, not a fresh empty store.
        uri = Path(self.path).as_uri() + "?mode=ro"
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.run_in_executor(self._prober, _read_schema, uri, timeout_s), timeout_s)

    async def _rollback(self) -> None:
        conn = self._conn
        await conn._execute(lambda: rollback_if_open(conn._conn))

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._lock:
            self._writes += 1  # usually a write; an extra checkpoint of an unchanged WAL is a no-op
            return int(await self._run([("exec", sql, tuple(params))]))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:  # BEGIN, the rows and COMMIT go in one call
            await tx.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._lock:
            rows: list[Row] = await self._run([("fetch", sql, tuple(params))])
            return rows

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def transaction(self, *, timeout_s: float | None = None) -> AsyncIterator[_SQLiteTx]:
        # ``timeout_s`` is PostgreSQL's; a SQLite statement has no time limit (only the busy wait).
        # A long one marks maintenance, which the health check lets run long.
        async with self._lock:
            tx = _SQLiteTx(self)
            self._tx_since = time.monotonic()
            self._tx_maintenance = timeout_s is not None and timeout_s > DEFAULT_COMMAND_TIMEOUT_S
            try:
                yield tx
                await tx.commit()
            except BaseException:
                if tx.started:
                    await self._rollback()
                raise
            finally:
                self._tx_since = None
            self._writes += 1

    async def scrub(self) -> None:
        """Copy the WAL into the database file and truncate it: the pages written before an erasure
        (the old text) stay in the WAL until overwritten otherwise. A reader of another process on
        an older snapshot can keep the checkpoint from completing: logged, done at a later one."""
        rows = await self.fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
        if rows and rows[0][0]:
            log.info(
                "store: the WAL could not be truncated after an erasure (a reader holds it); a later checkpoint will"
            )

    async def close(self) -> None:
        self._closed = True
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
            await asyncio.gather(self._checkpoint_task, return_exceptions=True)
        if self._checkpointer is not None:
            await self._checkpointer.close()
        if self._prober is not None:
            self._prober.shutdown(wait=False)  # a probe still running finishes and closes on its own
        await self._conn.close()


async def _connect_sqlite(path: str, **kwargs: Any) -> Any:
    """``aiosqlite.connect``, safe to cancel and to fail: cancelled half-way (SIGTERM during
    start-up), the connection is let finish on its thread and closed; failed (the path is a folder,
    unreadable), its thread is waited for. Either way the thread never reports to a loop that has
    closed meanwhile (a stray "Event loop is closed" traceback at exit)."""
    import aiosqlite

    conn = aiosqlite.connect(path, **kwargs)
    connecting = asyncio.ensure_future(conn)
    try:
        return await asyncio.shield(connecting)
    except asyncio.CancelledError:
        try:
            opened = await connecting
        except Exception:  # noqa: BLE001 - it failed on its own: nothing to close, only its thread to wait for
            await _thread_finished(conn)
        else:
            with contextlib.suppress(Exception):
                await opened.close()
        raise
    except Exception:
        await _thread_finished(conn)
        raise


async def _thread_finished(conn: Any) -> None:
    """Wait for the thread of a connection whose connect failed to end.

    On a failed connect aiosqlite queues its own shutdown with a future nobody awaits; the thread
    then hands that future's result to the loop. The CLI's ``asyncio.run`` closed the loop first,
    and the thread died with a traceback under the clear "cannot open the store" line.
    """
    # ``_thread`` is private, as ``_execute`` (see SQLiteDatabase._run); no public handle exists.
    thread = conn._thread
    if thread.ident is not None:  # started: it runs the queued shutdown and ends at once
        await asyncio.to_thread(thread.join)


def _read_schema(uri: str, timeout_s: float) -> None:
    conn = sqlite3.connect(uri, uri=True, timeout=timeout_s)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()


class _SQLiteTx:
    """Statements inside a SQLite transaction (the lock is already held).

    Writes that return nothing (``executemany``) are queued and sent, with ``BEGIN`` in front of the
    first, together with the next statement that returns something or with ``COMMIT``: one hop to
    the connection's thread instead of one per statement (see :mod:`bot.store.sqlite_batch`). Order
    is kept, so a read sees every earlier write. A queued write's error surfaces from that next call
    (or from the end of the ``async with`` block) and rolls the whole transaction back.
    """

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        # IMMEDIATE takes the write lock up front. A deferred BEGIN reads from a snapshot and only
        # asks for the lock at its first write; when another process (the CLI importing beside the
        # bot) committed in between, SQLite refuses that upgrade at once with "database is locked"
        # (no busy wait can help a stale snapshot) and a read-then-write transaction was lost.
        self._pending: list[Op] = [("plain", "BEGIN IMMEDIATE", None)]
        self.started = False  # whether BEGIN has been sent

    async def _send(self, last: Op) -> Any:
        ops, self._pending = self._pending, []
        ops.append(last)
        self.started = True
        return await self._db._run(ops)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(await self._send(("exec", sql, tuple(params))))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._pending.append(("many", sql, [tuple(r) for r in rows]))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows: list[Row] = await self._send(("fetch", sql, tuple(params)))
        return rows

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def commit(self) -> None:
        """Send what is queued and COMMIT (nothing at all when the transaction wrote nothing)."""
        if self.started or len(self._pending) > 1:
            await self._send(("plain", "COMMIT", None))


_PLACEHOLDER = re.compile(r"\?")
_SQL_CACHE: dict[str, str] = {}


def like_escaped(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern written with ``ESCAPE '!'`` (ids may hold ``_``)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


async def fetch_in(
    ex: Executor, sql: str, params: Sequence[Any], values: Sequence[Any], *, chunk: int = 500
) -> list[Row]:
    """The rows of ``sql``, a query ending in ``... IN``, with ``params`` and the list of ``values``
    after it: one query per ``chunk`` values (SQLite allows a few thousand placeholders at most).
    Nothing is read when ``values`` is empty."""
    rows: list[Row] = []
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        rows += await ex.fetchall(f"{sql} ({', '.join('?' * len(part))})", (*params, *part))
    return rows


def to_postgres_sql(sql: str) -> str:
    """Rewrite ``?`` placeholders to ``$1..$n`` (our SQL never has ``?`` inside literals)."""
    cached = _SQL_CACHE.get(sql)
    if cached is None:
        # Unbounded: PostgreSQL takes up to 32,767 parameters (an id list as long as SQLite's
        # limit allows), and a capped counter ended such a query in a bare StopIteration.
        counter = itertools.count(1)
        cached = _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)
        _SQL_CACHE[sql] = cached
    return cached


def _pg_count(status: str) -> int:
    parts = status.split()
    return int(parts[-1]) if parts and parts[-1].isdigit() else 0


def _storable(value: Any) -> Any:
    # PostgreSQL text cannot hold U+0000 (it rejects the whole statement) and no encoder takes a
    # lone surrogate. Ids and lookups from bad input must not crash the PostgreSQL store, so both
    # become U+FFFD, as ``clean_text`` does for message text on both stores.
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, list) and any(isinstance(v, str) for v in value):
        return [_storable(v) for v in value]
    return value


def _pg_params(params: Sequence[Any]) -> list[Any]:
    return [_storable(p) for p in params]


class PostgresDatabase:
    """asyncpg connection pool."""

    dialect = "postgresql"

    def __init__(self, pool: Any, *, command_timeout_s: float | None = None) -> None:
        self._pool = pool
        self._command_timeout_s = command_timeout_s

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        command_timeout_s: float | None = DEFAULT_COMMAND_TIMEOUT_S,
    ) -> PostgresDatabase:
        """Create a pool for ``postgresql://`` URLs.

        Args:
            url: The server and database.
            min_size: Connections opened up front.
            max_size: Connections at most.
            command_timeout_s: How long one statement may wait for the server's answer before it
                fails with :class:`StoreTimeoutError` (the server is asked to cancel it, and a
                connection that does not recover is dropped from the pool); None waits forever.
        """
        import asyncpg

        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, command_timeout=command_timeout_s)
        return cls(pool, command_timeout_s=command_timeout_s)

    @asynccontextmanager
    async def _timeouts_named(self, passthrough: Sequence[BaseException] = ()) -> AsyncIterator[None]:
        # asyncpg's command timeout is a bare ``TimeoutError()``; say what it was. An enclosing
        # ``asyncio.timeout()`` cancels us instead (it turns the CancelledError into TimeoutError
        # only on its own exit), so what is caught here is the statement's own timeout. Errors in
        # ``passthrough`` (raised by the body of a transaction, not by the store) are left alone.
        try:
            yield
        except StoreTimeoutError:
            raise
        except TimeoutError as exc:
            if any(exc is e for e in passthrough):
                raise
            raise StoreTimeoutError(
                f"PostgreSQL did not answer within {self._command_timeout_s} s (store.command_timeout_s); "
                "the server is slow or the connection was dropped"
            ) from exc

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._timeouts_named(), self._pool.acquire() as conn:
            return _pg_count(await conn.execute(to_postgres_sql(sql), *_pg_params(params)))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._timeouts_named(), self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(to_postgres_sql(sql), [_pg_params(r) for r in rows])

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._timeouts_named(), self._pool.acquire() as conn:
            return [tuple(r) for r in await conn.fetch(to_postgres_sql(sql), *_pg_params(params))]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self._timeouts_named(), self._pool.acquire() as conn:
            row = await conn.fetchrow(to_postgres_sql(sql), *_pg_params(params))
            return tuple(row) if row is not None else None

    @asynccontextmanager
    async def transaction(self, *, timeout_s: float | None = None) -> AsyncIterator[_PostgresTx]:
        raised: list[BaseException] = []
        async with self._timeouts_named(raised), self._pool.acquire() as conn, conn.transaction():
            try:
                yield _PostgresTx(conn, self._timeouts_named, timeout_s)
            except BaseException as exc:
                raised.append(exc)
                raise

    @asynccontextmanager
    async def connection(self, *, timeout_s: float | None = None) -> AsyncIterator[Executor]:
        """``async with db.connection() as conn:`` - one pooled connection, each statement
        autocommitted: for what PostgreSQL refuses inside a transaction block (``CREATE INDEX
        CONCURRENTLY``) and for session state that must stay on one connection (``pg_advisory_lock``).
        ``timeout_s`` bounds each statement as in :meth:`transaction`; as there, what the block
        raises itself (a TimeoutError of its own) comes out unchanged."""
        raised: list[BaseException] = []
        async with self._timeouts_named(raised), self._pool.acquire() as conn:
            # asyncpg runs a statement outside ``conn.transaction()`` in autocommit; the pool's reset
            # on release unlocks advisory locks the caller failed to release.
            try:
                yield _PostgresTx(conn, self._timeouts_named, timeout_s)
            except BaseException as exc:
                raised.append(exc)
                raise

    async def scrub(self) -> None:
        """Nothing to do from here: PostgreSQL keeps an updated or deleted row's old version until
        (auto)vacuum reclaims it, which it does on its own schedule (see SECURITY.md)."""

    async def close(self) -> None:
        # A graceful close waits for each connection's goodbye; on a connection the network dropped
        # that would be forever, so after the command timeout the rest are cut.
        try:
            async with asyncio.timeout(self._command_timeout_s):
                await self._pool.close()
        except TimeoutError:
            log.warning("PostgreSQL pool did not close within %s s; terminating it", self._command_timeout_s)
            self._pool.terminate()


class _PostgresTx:
    def __init__(
        self,
        conn: Any,
        timeouts_named: Callable[[], AbstractAsyncContextManager[None]],
        timeout_s: float | None = None,
    ) -> None:
        self._conn = conn
        self._timeouts_named = timeouts_named
        self._timeout = timeout_s  # None: the pool's command_timeout

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._timeouts_named():
            return _pg_count(await self._conn.execute(to_postgres_sql(sql), *_pg_params(params), timeout=self._timeout))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._timeouts_named():
            await self._conn.executemany(to_postgres_sql(sql), [_pg_params(r) for r in rows], timeout=self._timeout)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._timeouts_named():
            rows = await self._conn.fetch(to_postgres_sql(sql), *_pg_params(params), timeout=self._timeout)
            return [tuple(r) for r in rows]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self._timeouts_named():
            row = await self._conn.fetchrow(to_postgres_sql(sql), *_pg_params(params), timeout=self._timeout)
        return tuple(row) if row is not None else None


async def open_database(
    url: str,
    *,
    command_timeout_s: float | None = DEFAULT_COMMAND_TIMEOUT_S,
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
) -> SQLiteDatabase | PostgresDatabase:
    """Open a database from a URL: ``sqlite:///relative.db``, ``sqlite:////abs.db``,
    ``sqlite://:memory:`` or ``postgresql://user@host/db``.

    ``command_timeout_s`` bounds each PostgreSQL statement and ``busy_timeout_s`` each SQLite wait
    for another process's write lock (see :meth:`PostgresDatabase.connect`, :meth:`SQLiteDatabase.connect`).
    """
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if path.startswith("/"):
            path = path[1:]  # sqlite:///rel.db -> rel.db; sqlite:////abs.db -> /abs.db
        return await SQLiteDatabase.connect(path or ":memory:", busy_timeout_s=busy_timeout_s)
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase.connect(url, command_timeout_s=command_timeout_s)
    raise ValueError(f"unsupported database URL: {url}")
