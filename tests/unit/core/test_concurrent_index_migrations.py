"""Index-only migrations on PostgreSQL build CONCURRENTLY: writers go on while a big table is indexed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.store import Store, open_store, schema
from bot.store.db import PostgresDatabase, Row
from bot.store.schema import MIGRATION_LOCK_KEY, Migration, migrate
from tests.store_backends import fresh_database

# Index-only core steps and the index each builds.
MEMBER_SETTINGS = ("core-0011-member-settings-member-index", "member_settings_member")
CORE_INDEXES = [
    ("core-0009-channel-access-member-index", "channel_access_member"),
    ("core-0010-audit-actor-index", "audit_log_actor"),
    MEMBER_SETTINGS,
    ("core-0012-processed-events-ts-index", "processed_events_ts"),
]
SETTING = "INSERT INTO member_settings (platform, workspace_id, user_id, key, value, updated_ts) VALUES ($1, $2, $3, 'k', 'v', 0)"


@asynccontextmanager
async def _store_before(steps: list[tuple[str, str]]) -> AsyncIterator[tuple[str, Store]]:
    """A migrated PostgreSQL store where ``steps`` are pending again (their indexes dropped), as on
    an install of the version before them."""
    async with fresh_database("postgresql") as url:
        store = await open_store(url)
        try:
            for name, index in steps:
                await store.db.execute(f"DROP INDEX {index}")
                await store.db.execute("DELETE FROM schema_migrations WHERE name = ?", (name,))
            yield url, store
        finally:
            await store.close()


async def _index_state(store: Store, index: str) -> tuple[Any, ...] | None:
    """(valid, unique) of ``index``, None when there is none."""
    return await store.db.fetchone(
        "SELECT indisvalid, indisunique FROM pg_index WHERE indexrelid = to_regclass(?)", (index,)
    )


@pytest.mark.services
async def test_a_writer_is_not_blocked_while_an_index_migration_builds() -> None:
    import asyncpg

    async with _store_before([MEMBER_SETTINGS]) as (url, store):
        holder = await asyncpg.connect(url)  # a bot of the previous version, mid-transaction
        writer = await asyncpg.connect(url)
        try:
            held = holder.transaction()
            await held.start()
            await holder.execute(SETTING, "discord", "G1", "U1")
            migrating = asyncio.create_task(migrate(store.db))
            # Wait until the build is under way and waiting on the open transaction (no event to
            # wait for: the server's activity view is polled).
            async with asyncio.timeout(30):
                while True:
                    waiting = await writer.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                        "AND query LIKE '%member_settings_member%' AND wait_event_type = 'Lock'"
                    )
                    if waiting:
                        break
                    await asyncio.sleep(0.02)
            # A plain CREATE INDEX queues for a SHARE lock behind the open transaction, and every
            # later writer queues behind it: this insert would wait for the whole build.
            await writer.execute("SET lock_timeout = '5s'")
            async with writer.transaction():
                await writer.execute(SETTING, "discord", "G1", "U2")
            assert not migrating.done()  # the build still waits for the older transaction
            await held.commit()
            assert await asyncio.wait_for(migrating, 60) == [MEMBER_SETTINGS[0]]
        finally:
            await holder.close()
            await writer.close()
        assert await _index_state(store, MEMBER_SETTINGS[1]) == (True, False)
        assert await store.db.fetchall("SELECT user_id FROM member_settings ORDER BY user_id") == [("U1",), ("U2",)]


@pytest.mark.services
async def test_an_invalid_index_left_by_a_failed_build_is_built_again() -> None:
    import asyncpg

    async with _store_before([MEMBER_SETTINGS]) as (url, store):
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(SETTING, "discord", "G1", "U1")
            await conn.execute(SETTING, "discord", "G2", "U1")
            # A concurrent build that fails half-way leaves an INVALID index of that name behind.
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute(
                    f"CREATE UNIQUE INDEX CONCURRENTLY {MEMBER_SETTINGS[1]} ON member_settings (user_id)"
                )
        finally:
            await conn.close()
        assert await _index_state(store, MEMBER_SETTINGS[1]) == (False, True)
        assert await migrate(store.db) == [MEMBER_SETTINGS[0]]
        assert await _index_state(store, MEMBER_SETTINGS[1]) == (True, False)  # the migration's index


@pytest.mark.services
async def test_two_processes_building_indexes_at_once_record_each_step_once() -> None:
    async with _store_before(CORE_INDEXES) as (url, store):
        dbs = [await PostgresDatabase.connect(url, max_size=2) for _ in range(2)]
        try:
            applied = await asyncio.gather(*[migrate(db) for db in dbs])
        finally:
            for db in dbs:
                await db.close()
        assert sorted(name for run in applied for name in run) == [name for name, _ in CORE_INDEXES]
        for name, index in CORE_INDEXES:
            assert await store.db.fetchall("SELECT name FROM schema_migrations WHERE name = ?", (name,)) == [(name,)]
            assert await _index_state(store, index) == (True, False)


class _StaleMigrationList(PostgresDatabase):
    """A process whose first read of ``schema_migrations`` predates another process's migration run."""

    stale: tuple[Row, ...] = ()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        if sql == "SELECT name FROM schema_migrations":
            return list(self.stale)
        return await super().fetchall(sql, params)


@pytest.mark.services
async def test_an_index_step_another_process_recorded_meanwhile_is_not_applied_again() -> None:
    async with _store_before(CORE_INDEXES) as (url, store):
        late = await _StaleMigrationList.connect(url, max_size=2)
        try:
            late.stale = tuple(await store.db.fetchall("SELECT name FROM schema_migrations"))
            assert await migrate(store.db) == [name for name, _ in CORE_INDEXES]  # the other process
            assert await migrate(late) == []
        finally:
            await late.close()


@pytest.mark.services
@pytest.mark.parametrize(
    "holder_sql",
    [
        "SELECT count(*) FROM schema_migrations",  # a pg_dump's snapshot, or any idle session's
        "SELECT count(*) FROM member_settings",  # ...that read the table being indexed
        SETTING.replace("$1, $2, $3", "'discord', 'G9', 'U9'"),  # a writer of it, idle in its transaction
    ],
    ids=["unrelated-snapshot", "read-the-table", "idle-writer-of-the-table"],
)
async def test_an_old_transaction_leaves_index_steps_for_the_next_start_without_blocking_writers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, holder_sql: str
) -> None:
    """CREATE INDEX CONCURRENTLY waits for every older transaction in the database: unbounded, a
    start waited up to an hour behind a pg_dump or a session idle in transaction. A plain build in
    its place stopped every writer of the table behind an idle writer's lock, at each start."""
    import asyncpg

    # raising=False: before the bound existed the migration waited for the transaction's end.
    monkeypatch.setattr(schema, "CONCURRENT_WAIT_S", 1.0, raising=False)
    async with _store_before(CORE_INDEXES) as (url, store):
        holder = await asyncpg.connect(url)
        writer = await asyncpg.connect(url)
        try:
            held = holder.transaction(isolation="repeatable_read")
            await held.start()
            await holder.execute(holder_sql)
            with caplog.at_level(logging.WARNING, logger="bot.store.schema"):
                migrating = asyncio.create_task(migrate(store.db))
                await asyncio.sleep(0.3)  # the first build waits for the holder now
                await writer.execute("SET lock_timeout = '500ms'")
                await writer.execute(SETTING, "discord", "G2", "U2")  # not blocked (LockNotAvailable before)
                assert await asyncio.wait_for(migrating, 15) == []
            await held.rollback()
        finally:
            await holder.close()
            await writer.close()
        messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("left for the next start:" in m for m in messages) == 1  # one wait, not one per step
        assert sum("left for the next start too" in m for m in messages) == len(CORE_INDEXES) - 1
        # The next start, nothing old open: every step is built, the invalid leftover dropped first.
        assert await migrate(store.db) == [name for name, _ in CORE_INDEXES]
        for _, index in CORE_INDEXES:
            assert (await _index_state(store, index) or (False,))[0] is True


@pytest.mark.services
async def test_an_invalid_leftover_held_by_an_old_transaction_is_left_for_the_next_start_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An INVALID index left by a failed build, and a build again held by an older transaction:
    the step waits for the next start, which drops the leftover and builds the index right."""
    import asyncpg

    monkeypatch.setattr(schema, "CONCURRENT_WAIT_S", 1.0)
    async with _store_before([MEMBER_SETTINGS]) as (url, store):
        conn = await asyncpg.connect(url)
        holder = await asyncpg.connect(url)
        try:
            await conn.execute(SETTING, "discord", "G1", "U1")
            await conn.execute(SETTING, "discord", "G2", "U1")
            with pytest.raises(asyncpg.UniqueViolationError):  # the migration's own index, made to fail
                await conn.execute(
                    f"CREATE UNIQUE INDEX CONCURRENTLY {MEMBER_SETTINGS[1]} ON member_settings (user_id, platform)"
                )
            await conn.execute("DELETE FROM member_settings WHERE workspace_id = 'G2'")
            held = holder.transaction(isolation="repeatable_read")
            await held.start()
            await holder.fetchval("SELECT count(*) FROM schema_migrations")
            assert await asyncio.wait_for(migrate(store.db), 15) == []
            await held.rollback()
        finally:
            await conn.close()
            await holder.close()
        # Dropped (nothing used it) and built again, which the holder held: invalid still.
        assert (await _index_state(store, MEMBER_SETTINGS[1]) or (True,))[0] is False
        assert await migrate(store.db) == [MEMBER_SETTINGS[0]]  # the next start, nothing held
        assert await _index_state(store, MEMBER_SETTINGS[1]) == (True, False)


class _LockTakenMeanwhile(PostgresDatabase):
    """Another process takes the migration lock just before this one's index step, and keeps it."""

    holder: Any = None

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        if sql == "SELECT name FROM schema_migrations" and self.holder is not None:
            await self.holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        return await super().fetchall(sql, params)


@pytest.mark.services
async def test_a_migration_lock_held_too_long_is_named_not_taken_for_a_slow_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncpg

    monkeypatch.setattr(schema, "MAINTENANCE_TIMEOUT_S", 1.0)
    async with _store_before([MEMBER_SETTINGS]) as (url, _store):
        db = await _LockTakenMeanwhile.connect(url, max_size=2)
        db.holder = await asyncpg.connect(url)
        try:
            with pytest.raises(TimeoutError, match="another process has held the store's migration lock"):
                await asyncio.wait_for(migrate(db), 15)
        finally:
            await db.holder.close()
            await db.close()


def test_only_index_statements_may_be_built_concurrently() -> None:
    with pytest.raises(ValueError, match="CREATE INDEX IF NOT EXISTS only"):
        Migration("test-0001-column", ("ALTER TABLE notes ADD COLUMN author TEXT",), concurrent_indexes=True)
    Migration(
        "test-0002-index",
        ("CREATE UNIQUE INDEX IF NOT EXISTS notes_author ON notes (author)",),
        concurrent_indexes=True,
    )
