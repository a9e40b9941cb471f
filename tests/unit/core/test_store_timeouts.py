"""The store on a slow or half-dead connection: a bounded wait and a clear error, never a hang.

PostgreSQL tests run against the local server, the half-open case through a TCP proxy in the test
that stops forwarding (what a connection looks like after the network silently dropped it: no FIN,
no RST, the kernel keeps the socket open). SQLite tests use two real connections on one file.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.config import StoreSettings
from bot.store.db import (
    DEFAULT_BUSY_TIMEOUT_S,
    DEFAULT_COMMAND_TIMEOUT_S,
    PostgresDatabase,
    SQLiteDatabase,
    StoreTimeoutError,
    open_database,
)
from tests.store_backends import PG_SERVER

# A safety net so that a regression fails the test instead of hanging the suite; the store's own
# timeouts in these tests are a fraction of it.
HANG = 20


class _BlackHoleProxy:
    """TCP proxy to PostgreSQL that can stop forwarding while keeping every socket open."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.forwarding = True
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.forwarding:  # otherwise dropped: nothing reaches the other side, nothing closes
                    writer.write(data)
                    await writer.drain()
        except ConnectionError:
            pass

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers += [writer, up_writer]
        for pipe in (self._pipe(reader, up_writer), self._pipe(up_reader, writer)):
            task = asyncio.create_task(pipe)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A throwaway PostgreSQL database."""
    import asyncpg

    name = f"gh_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_SERVER)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield f"{PG_SERVER.rsplit('/', 1)[0]}/{name}"
    admin = await asyncpg.connect(PG_SERVER)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.mark.services
async def test_a_statement_the_server_does_not_answer_in_time_fails_and_the_pool_recovers(pg_url: str) -> None:
    db = await PostgresDatabase.connect(pg_url, min_size=1, max_size=1, command_timeout_s=0.2)
    try:
        async with asyncio.timeout(HANG):
            with pytest.raises(StoreTimeoutError, match="command_timeout_s"):
                await db.fetchone("SELECT pg_sleep(60)")
            # The one connection was not left busy with the cancelled statement.
            assert await db.fetchone("SELECT 1") == (1,)
    finally:
        await db.close()


@pytest.mark.services
async def test_a_half_open_connection_is_an_error_not_a_hang(pg_url: str) -> None:
    where = urlsplit(pg_url)
    proxy = _BlackHoleProxy(where.hostname or "127.0.0.1", where.port or 5432)
    port = await proxy.start()
    url = pg_url.replace(f"{where.hostname}:{where.port or 5432}", f"127.0.0.1:{port}", 1)
    db = await PostgresDatabase.connect(url, min_size=1, max_size=1, command_timeout_s=0.3)
    try:
        async with asyncio.timeout(HANG):
            await db.execute("CREATE TABLE facts (id INTEGER PRIMARY KEY)")
            proxy.forwarding = False  # the network silently drops everything from here on
            with pytest.raises(StoreTimeoutError):
                await db.execute("INSERT INTO facts (id) VALUES (?)", (1,))
            proxy.forwarding = True  # the network is back: the pool replaces the dead connection
            await db.execute("INSERT INTO facts (id) VALUES (?)", (2,))
            assert await db.fetchall("SELECT id FROM facts ORDER BY id") in ([(2,)], [(1,), (2,)])
    finally:
        async with asyncio.timeout(HANG):
            await db.close()
        await proxy.close()


@pytest.mark.services
async def test_a_statement_timing_out_in_a_transaction_rolls_the_whole_transaction_back(pg_url: str) -> None:
    db = await PostgresDatabase.connect(pg_url, min_size=1, max_size=1, command_timeout_s=0.2)
    try:
        async with asyncio.timeout(HANG):
            await db.execute("CREATE TABLE facts (id INTEGER PRIMARY KEY)")
            with pytest.raises(StoreTimeoutError):
                async with db.transaction() as tx:
                    await tx.execute("INSERT INTO facts (id) VALUES (?)", (1,))
                    await tx.fetchone("SELECT pg_sleep(60)")
            assert await db.fetchall("SELECT id FROM facts") == []
    finally:
        await db.close()


@pytest.mark.services
async def test_a_timeout_raised_by_the_transaction_body_itself_is_not_renamed(pg_url: str) -> None:
    db = await PostgresDatabase.connect(pg_url, min_size=1, max_size=1, command_timeout_s=5)
    own = TimeoutError("the caller's own deadline")
    try:
        with pytest.raises(TimeoutError) as caught:
            async with db.transaction() as tx:
                await tx.fetchone("SELECT 1")
                raise own
        assert caught.value is own
    finally:
        await db.close()


@pytest.mark.services
async def test_open_database_bounds_postgresql_statements_by_default(pg_url: str) -> None:
    db = await open_database(pg_url)
    try:
        assert isinstance(db, PostgresDatabase)
        async with db.transaction() as tx:
            # asyncpg keeps the pool's command_timeout on each connection's config.
            assert tx._conn._config.command_timeout == DEFAULT_COMMAND_TIMEOUT_S
    finally:
        await db.close()


def test_the_settings_defaults_are_the_drivers_defaults() -> None:
    settings = StoreSettings()
    assert settings.command_timeout_s == DEFAULT_COMMAND_TIMEOUT_S
    assert settings.busy_timeout_s == DEFAULT_BUSY_TIMEOUT_S


async def test_sqlite_waits_longer_than_sqlite3s_5_s_default_for_another_writer(tmp_path: Path) -> None:
    db = await open_database(f"sqlite:///{tmp_path / 'guildhall.db'}")
    try:
        row = await db.fetchone("PRAGMA busy_timeout")
        assert row is not None and row[0] == DEFAULT_BUSY_TIMEOUT_S * 1000 > 5000
    finally:
        await db.close()


async def _write_while_another_process_holds_the_lock(path: Path, busy_timeout_s: float) -> asyncio.Task[int]:
    db = await SQLiteDatabase.connect(str(path), busy_timeout_s=busy_timeout_s)
    return asyncio.create_task(_insert_and_close(db))


async def _insert_and_close(db: SQLiteDatabase) -> int:
    try:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO facts (id) VALUES (?)", (1,))
        row = await db.fetchone("SELECT COUNT(*) FROM facts")
        return int(row[0]) if row else 0
    finally:
        await db.close()


async def test_the_bots_write_waits_for_an_import_holding_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "guildhall.db"
    importer = sqlite3.connect(path, isolation_level=None)
    try:
        importer.execute("PRAGMA journal_mode=WAL")
        importer.execute("CREATE TABLE facts (id INTEGER PRIMARY KEY)")
        importer.execute("BEGIN IMMEDIATE")  # an import batch in progress
        importer.execute("INSERT INTO facts (id) VALUES (100)")
        write = await _write_while_another_process_holds_the_lock(path, busy_timeout_s=HANG)
        done, _ = await asyncio.wait({write}, timeout=0.5)
        assert not done  # still waiting for the lock: not failed with "database is locked"
        importer.execute("COMMIT")
        assert await asyncio.wait_for(write, HANG) == 2
    finally:
        importer.close()


async def test_without_a_busy_wait_the_same_write_fails_at_once(tmp_path: Path) -> None:
    # The other side of the test above: the lock really is held, and 0 s is a usable setting.
    path = tmp_path / "guildhall.db"
    importer = sqlite3.connect(path, isolation_level=None)
    try:
        importer.execute("PRAGMA journal_mode=WAL")
        importer.execute("CREATE TABLE facts (id INTEGER PRIMARY KEY)")
        importer.execute("BEGIN IMMEDIATE")
        write = await _write_while_another_process_holds_the_lock(path, busy_timeout_s=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await asyncio.wait_for(write, HANG)
        importer.execute("COMMIT")
    finally:
        importer.close()


async def test_the_configured_timeouts_reach_the_database(tmp_path: Path) -> None:
    from bot.store import open_configured_store

    configured = StoreSettings(url=f"sqlite:///{tmp_path / 'guildhall.db'}", busy_timeout_s=2.5)
    store = await open_configured_store(configured)
    try:
        row = await store.db.fetchone("PRAGMA busy_timeout")
        assert row == (2500,)
    finally:
        await store.db.close()


@pytest.mark.services
async def test_the_configured_command_timeout_reaches_postgresql(pg_url: str) -> None:
    from bot.store import open_configured_store

    store = await open_configured_store(StoreSettings(url=pg_url, command_timeout_s=7.0))
    try:
        async with store.db.transaction() as tx:
            assert tx._conn._config.command_timeout == 7.0
    finally:
        await store.db.close()


@pytest.mark.services
async def test_maintenance_work_gets_its_own_longer_statement_limit(pg_url: str) -> None:
    # A first retention purge or a data migration on a big install outlasts any live query: under
    # the store's command timeout it failed, rolled back and failed again every hour.
    db = await PostgresDatabase.connect(pg_url, min_size=1, max_size=1, command_timeout_s=0.2)
    try:
        async with asyncio.timeout(HANG):
            with pytest.raises(StoreTimeoutError):
                async with db.transaction() as tx:
                    await tx.execute("SELECT pg_sleep(0.5)")
            async with db.transaction(timeout_s=5.0) as tx:
                await tx.execute("SELECT pg_sleep(0.5)")
    finally:
        await db.close()
