"""Schema migrations: ordered, named steps recorded in ``schema_migrations``.

Core tables are declared here; brains register their own steps with :func:`register` (under their
own name prefix) so every table is created by the same mechanism on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.store import slack_ids
from bot.store.db import MAINTENANCE_TIMEOUT_S, Database, Executor, PostgresDatabase

# ``CREATE [UNIQUE] INDEX`` (group 1) ``IF NOT EXISTS <name>`` (group 2): the one statement an
# index-only migration may hold.
_CREATE_INDEX = re.compile(r"\s*(CREATE\s+(?:UNIQUE\s+)?INDEX)\s+IF\s+NOT\s+EXISTS\s+(\w+)\s", re.IGNORECASE)
_ON_TABLE = re.compile(r"\sON\s+(?:ONLY\s+)?(\w+)", re.IGNORECASE)

# How long CREATE INDEX CONCURRENTLY may wait for older transactions before its migration step is
# left for the next start. The concurrent build waits for every transaction in the database that
# holds a snapshot older than the build (a pg_dump, a session idle in transaction), writer of the
# table or not (see _build_index).
CONCURRENT_WAIT_S = 60.0

# SQLSTATE lock_not_available: ``lock_timeout`` ran out (its waits include the concurrent build's).
_LOCK_NOT_AVAILABLE = "55P03"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Migration:
    """One idempotent migration step.

    Attributes:
        name: Unique, recorded in ``schema_migrations`` once applied.
        statements: Run in order (in one transaction, unless ``concurrent_indexes``).
        concurrent_indexes: Every statement is ``CREATE [UNIQUE] INDEX IF NOT EXISTS <name> ...``.
            On PostgreSQL each is built ``CONCURRENTLY``, outside a transaction, so writers to a big
            table (a bot of the previous version during a rolling upgrade) are not blocked for the
            whole build; SQLite runs them as any other step.
    """

    name: str
    statements: tuple[str, ...]
    concurrent_indexes: bool = False

    def __post_init__(self) -> None:
        if self.concurrent_indexes:
            for statement in self.statements:
                if _CREATE_INDEX.match(statement) is None:
                    raise ValueError(
                        f"migration {self.name}: concurrent_indexes takes CREATE INDEX IF NOT EXISTS only, got {statement!r}"
                    )


CORE: list[Migration] = [
    Migration(
        "core-0001-initial",
        (
            """CREATE TABLE IF NOT EXISTS workspaces (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (platform, workspace_id))""",
            """CREATE TABLE IF NOT EXISTS channels (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, channel_id TEXT NOT NULL,
                name TEXT NOT NULL DEFAULT '', visibility TEXT NOT NULL DEFAULT 'public',
                is_forum INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (platform, workspace_id, channel_id))""",
            """CREATE TABLE IF NOT EXISTS channel_access (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, channel_id TEXT NOT NULL,
                principal_kind TEXT NOT NULL, principal_id TEXT NOT NULL,
                PRIMARY KEY (platform, workspace_id, channel_id, principal_kind, principal_id))""",
            """CREATE INDEX IF NOT EXISTS channel_access_principal
                ON channel_access (platform, workspace_id, principal_kind, principal_id)""",
            """CREATE TABLE IF NOT EXISTS users (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, user_id TEXT NOT NULL,
                name TEXT NOT NULL DEFAULT '', is_bot INTEGER NOT NULL DEFAULT 0, tz TEXT,
                PRIMARY KEY (platform, workspace_id, user_id))""",
            """CREATE TABLE IF NOT EXISTS messages (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, message_id TEXT NOT NULL,
                channel_id TEXT NOT NULL, thread_id TEXT, reply_to TEXT, author_id TEXT NOT NULL,
                ts DOUBLE PRECISION NOT NULL, edited_ts DOUBLE PRECISION,
                deleted INTEGER NOT NULL DEFAULT 0, text TEXT NOT NULL DEFAULT '',
                is_bot INTEGER NOT NULL DEFAULT 0, subtype TEXT NOT NULL DEFAULT '',
                permalink TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (platform, workspace_id, message_id))""",
            """CREATE INDEX IF NOT EXISTS messages_channel_ts
                ON messages (platform, workspace_id, channel_id, ts)""",
            """CREATE INDEX IF NOT EXISTS messages_thread
                ON messages (platform, workspace_id, thread_id)""",
            """CREATE INDEX IF NOT EXISTS messages_author
                ON messages (platform, workspace_id, author_id, ts)""",
            """CREATE TABLE IF NOT EXISTS threads (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, thread_id TEXT NOT NULL,
                channel_id TEXT NOT NULL, title TEXT NOT NULL DEFAULT '', author_id TEXT NOT NULL DEFAULT '',
                ts DOUBLE PRECISION NOT NULL, is_forum_post INTEGER NOT NULL DEFAULT 0,
                solved_message_id TEXT,
                PRIMARY KEY (platform, workspace_id, thread_id))""",
            """CREATE TABLE IF NOT EXISTS reactions (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, message_id TEXT NOT NULL,
                user_id TEXT NOT NULL, emoji TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, message_id, user_id, emoji))""",
            """CREATE TABLE IF NOT EXISTS member_settings (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, user_id TEXT NOT NULL,
                key TEXT NOT NULL, value TEXT NOT NULL, updated_ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, user_id, key))""",
            """CREATE TABLE IF NOT EXISTS workspace_settings (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, key TEXT NOT NULL,
                value TEXT NOT NULL, updated_ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, key))""",
            """CREATE TABLE IF NOT EXISTS feedback (
                feedback_id TEXT PRIMARY KEY, platform TEXT NOT NULL, workspace_id TEXT NOT NULL,
                user_id TEXT NOT NULL, kind TEXT NOT NULL, target_id TEXT NOT NULL,
                value TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL)""",
            """CREATE INDEX IF NOT EXISTS feedback_user ON feedback (platform, workspace_id, user_id)""",
            """CREATE TABLE IF NOT EXISTS audit_log (
                audit_id TEXT PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, platform TEXT NOT NULL,
                workspace_id TEXT NOT NULL, actor_id TEXT NOT NULL, action TEXT NOT NULL,
                allowed INTEGER NOT NULL DEFAULT 1, detail TEXT NOT NULL DEFAULT '{}')""",
            """CREATE TABLE IF NOT EXISTS processed_events (
                consumer TEXT NOT NULL, event_id TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (consumer, event_id))""",
        ),
    ),
    # Slack ids become "<channel>:<ts>" (bot.message_ids); brains migrate their own tables.
    Migration("core-0002-slack-channel-ids", slack_ids.CORE_STATEMENTS),
    # The latest slot each catch-up job ran for (bot.scheduler.StoreRunLog): a run missed while the
    # bot was down is made once on start.
    Migration(
        "core-0003-scheduled-runs",
        (
            """CREATE TABLE IF NOT EXISTS scheduled_runs (
                job TEXT PRIMARY KEY, slot_ts DOUBLE PRECISION NOT NULL, ran_ts DOUBLE PRECISION NOT NULL)""",
        ),
    ),
    # The parent of a Discord private thread, which is stored as a channel of its own: Discord
    # deletes a channel's threads with it but sends CHANNEL_DELETE for the parent only, so the store
    # must know which private threads to erase along. Rows recorded before stay NULL until the
    # thread is seen again (no backfill: only Discord's API knows the parent).
    Migration(
        "core-0004-channel-parents",
        (
            "ALTER TABLE channels ADD COLUMN parent_id TEXT",
            "CREATE INDEX IF NOT EXISTS channels_parent ON channels (platform, workspace_id, parent_id)",
        ),
    ),
    # Slack Connect channels: an answer there uses that channel alone (brain.qa.access). NULL: not known.
    Migration("core-0005-channel-shared-externally", ("ALTER TABLE channels ADD COLUMN shared_externally INTEGER",)),
    # People of another organisation seen in a shared channel: no digest, no recommendations. NULL: not known.
    Migration("core-0006-users-external", ("ALTER TABLE users ADD COLUMN external INTEGER",)),
    # Slack guests read only the channels they are in: readable_channel_ids and answer scopes. NULL: not known.
    Migration("core-0007-users-guest", ("ALTER TABLE users ADD COLUMN guest INTEGER",)),
    # One vote per member and target, the latest: each click had added a row (and two workers taking
    # two clicks at once could both insert). Earlier duplicates go first, the latest kept.
    Migration(
        "core-0008-feedback-one-vote",
        (
            """DELETE FROM feedback WHERE EXISTS (SELECT 1 FROM feedback later
                WHERE later.platform = feedback.platform AND later.workspace_id = feedback.workspace_id
                AND later.user_id = feedback.user_id AND later.kind = feedback.kind
                AND later.target_id = feedback.target_id
                AND (later.ts > feedback.ts OR (later.ts = feedback.ts AND later.feedback_id > feedback.feedback_id)))""",
            """CREATE UNIQUE INDEX IF NOT EXISTS feedback_one_vote
                ON feedback (platform, workspace_id, user_id, kind, target_id)""",
        ),
    ),
    # Where a Discord member's privacy commands act (bot.core_brain.member_everywhere) and what a
    # data export lists: the private channels an access list names them in, and the audit entries of
    # what they did. Both lookups start from the member, in no workspace; the tables' keys lead with
    # the workspace (channel_access) or nothing useful (audit_log), so each lookup scanned the table.
    Migration(
        "core-0009-channel-access-member-index",
        (
            """CREATE INDEX IF NOT EXISTS channel_access_member
                ON channel_access (principal_id, platform, principal_kind, workspace_id)""",
        ),
        concurrent_indexes=True,
    ),
    Migration(
        "core-0010-audit-actor-index",
        ("CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor_id, platform, workspace_id)",),
        concurrent_indexes=True,
    ),
    # The privacy gate reads a Discord member's settings in every workspace on their first event in
    # a server (bot.privacy.optout): the key leads with the workspace, so each read scanned the table.
    Migration(
        "core-0011-member-settings-member-index",
        ("CREATE INDEX IF NOT EXISTS member_settings_member ON member_settings (user_id, platform)",),
        concurrent_indexes=True,
    ),
    # The daily purge of dedupe marks (Store.purge_processed) deletes the oldest in batches: each
    # batch finds its rows by time, which the key (consumer, event_id) cannot serve.
    Migration(
        "core-0012-processed-events-ts-index",
        ("CREATE INDEX IF NOT EXISTS processed_events_ts ON processed_events (ts)",),
        concurrent_indexes=True,
    ),
    # Changes that overtook what they change (the Redis bus hands a post and its edit, or a
    # reaction's add and removal, to different workers, or reclaims a dead worker's post after
    # the edit was handled): an edit of a message not stored yet waits in ``pending_edits`` for
    # the post, which takes it (Store.apply_pending_edits); a removal leaves its time in
    # ``reaction_removals``, so an older add delivered after it is not stored. ``ts`` is the
    # change's own time (edit, removal), ``noted_ts`` when it was written: both tables are purged
    # with the dedupe marks (Store.purge_pending_changes), by retention and by /forget-me.
    Migration(
        "core-0013-pending-changes",
        (
            """CREATE TABLE IF NOT EXISTS pending_edits (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, message_id TEXT NOT NULL,
                channel_id TEXT NOT NULL DEFAULT '', author_id TEXT NOT NULL DEFAULT '',
                text TEXT NOT NULL DEFAULT '', ts DOUBLE PRECISION NOT NULL,
                noted_ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, message_id))""",
            """CREATE TABLE IF NOT EXISTS reaction_removals (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, message_id TEXT NOT NULL,
                user_id TEXT NOT NULL, emoji TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL,
                noted_ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, message_id, user_id, emoji))""",
        ),
    ),
]

_EXTRA: list[Migration] = []


def register(migration: Migration) -> None:
    """Add a migration owned by a brain (idempotent: the same name twice is ignored)."""
    if all(m.name != migration.name for m in _EXTRA):
        _EXTRA.append(migration)


def all_migrations() -> list[Migration]:
    """Core migrations first, then registered ones in registration order."""
    return [*CORE, *_EXTRA]


# Key of the PostgreSQL advisory lock that serializes migrations across processes ("guild").
MIGRATION_LOCK_KEY = 0x6775696C64


# How soon a process waiting for another's migrations asks for the lock again (PostgreSQL).
LOCK_POLL_S = 0.1


@asynccontextmanager
async def _locked_transaction(db: Database) -> AsyncIterator[Executor]:
    """A maintenance transaction that holds the migration lock until it ends (SQLite: ``BEGIN
    IMMEDIATE`` already holds the database's write lock).

    PostgreSQL: a waiter does not block inside its transaction but ends it and asks again shortly:
    another process's CREATE INDEX CONCURRENTLY, run under the lock, waits for every transaction
    that had a snapshot as it began, so a waiting transaction and the build would wait on each other.
    """
    deadline = time.monotonic() + MAINTENANCE_TIMEOUT_S
    while True:
        async with db.transaction(timeout_s=MAINTENANCE_TIMEOUT_S) as tx:
            if db.dialect != "postgresql" or await _try_lock(tx, "pg_try_advisory_xact_lock"):
                yield tx
                return
        await _wait_for_turn(deadline)


async def _wait_for_turn(deadline: float) -> None:
    """Sleep before asking for the migration lock again; past ``deadline`` give up (the blocking
    lock this replaced was bounded by the statement timeout, and a process that never lets go must
    not hang every other start for ever)."""
    if time.monotonic() >= deadline:
        raise TimeoutError(
            f"another process has held the store's migration lock for over {MAINTENANCE_TIMEOUT_S:.0f} s "
            "(an advisory lock in pg_locks); stop that process and start again"
        )
    await asyncio.sleep(LOCK_POLL_S)


async def _try_lock(conn: Executor, function: str) -> bool:
    row = await conn.fetchone(f"SELECT {function}(?)", (MIGRATION_LOCK_KEY,))
    return row is not None and bool(row[0])


async def migrate(db: Database) -> list[str]:
    """Apply pending migrations; returns the names applied.

    Safe when several processes start at once (the bot and a CLI import, two replicas): each step
    runs under a lock and is skipped when another process recorded it meanwhile, so a step that is
    not idempotent by itself (``ALTER TABLE ... ADD COLUMN``) never runs twice. On PostgreSQL an
    index-only step (:attr:`Migration.concurrent_indexes`) is built without blocking writers.
    """
    # Locked too: two concurrent CREATE TABLE IF NOT EXISTS can both miss the table on PostgreSQL.
    async with _locked_transaction(db) as tx:
        await tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ts DOUBLE PRECISION NOT NULL)"
        )
    done = {row[0] for row in await db.fetchall("SELECT name FROM schema_migrations")}
    applied = []
    held = False  # an older transaction held a concurrent build: the other index steps wait too
    for migration in all_migrations():
        if migration.name in done:
            continue
        if migration.concurrent_indexes and isinstance(db, PostgresDatabase):
            if held:
                log.warning("index migration %s left for the next start too", migration.name)
                continue
            outcome = await _build_indexes_concurrently(db, migration)
            held = outcome is None
            if outcome:
                applied.append(migration.name)
            continue
        async with _locked_transaction(db) as tx:
            if await tx.fetchone("SELECT 1 FROM schema_migrations WHERE name = ?", (migration.name,)):
                continue  # another process applied it after ``done`` was read
            for statement in migration.statements:
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (name, applied_ts) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (migration.name, time.time()),
            )
        applied.append(migration.name)
    return applied


async def _build_indexes_concurrently(db: PostgresDatabase, migration: Migration) -> bool | None:
    """Apply an index-only ``migration`` with ``CREATE INDEX CONCURRENTLY``: True when applied,
    False when another process recorded it meanwhile, None when older transactions held a build
    past :data:`CONCURRENT_WAIT_S` (the step is left for the next start).

    The build cannot run in a transaction block, so the migration lock is held at session level on
    the one connection that builds and records, and released by hand (a connection given back to
    the pool, or dropped, releases it too).
    """
    async with db.connection(timeout_s=MAINTENANCE_TIMEOUT_S) as conn:
        # Asked for in turns, not waited for in one statement: a statement holds a snapshot while
        # it waits, and another process's concurrent build would wait for it (see _locked_transaction).
        deadline = time.monotonic() + MAINTENANCE_TIMEOUT_S
        while not await _try_lock(conn, "pg_try_advisory_lock"):
            await _wait_for_turn(deadline)
        try:
            if await conn.fetchone("SELECT 1 FROM schema_migrations WHERE name = ?", (migration.name,)):
                return False
            for statement in migration.statements:
                match = _CREATE_INDEX.match(statement)
                assert match is not None  # checked by Migration
                if not await _build_index(conn, statement, match):
                    log.warning(
                        "index migration %s left for the next start: an older transaction (a pg_dump, a session "
                        "idle in transaction) held CREATE INDEX CONCURRENTLY for over %.0f s; until then the "
                        "index is missing (lookups on %s are slower), and no writer was blocked",
                        migration.name,
                        CONCURRENT_WAIT_S,
                        on.group(1) if (on := _ON_TABLE.search(statement)) else "its table",
                    )
                    return None
            await conn.execute(
                "INSERT INTO schema_migrations (name, applied_ts) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (migration.name, time.time()),
            )
        finally:
            # After a failed or cancelled statement the connection may refuse more; the pool's reset
            # (or the session's end) releases the lock then.
            with contextlib.suppress(Exception):
                await conn.execute("SELECT pg_advisory_unlock(?)", (MIGRATION_LOCK_KEY,))
    return True


async def _build_index(conn: Executor, statement: str, match: re.Match[str]) -> bool:
    """Build the index of ``statement`` (matched by ``_CREATE_INDEX``) ``CONCURRENTLY``; False when
    older transactions held it past :data:`CONCURRENT_WAIT_S`.

    A concurrent build (and the drop of an INVALID index an earlier one left) waits for every
    transaction in the database older than it, writer of the table or not, but blocks no writer.
    A plain build would wait for none of those, but it takes the table's SHARE lock: queued behind
    a writer left idle in its transaction, it would stop every other writer of the table. So past
    the bound nothing is built plainly; the step waits for a start when nothing old is open.
    """
    index = match.group(2)
    # A concurrent build that failed or was interrupted (a timeout, a killed process, the bound
    # below) leaves an INVALID index, which IF NOT EXISTS would skip for ever: drop it and build again.
    if await _index_valid(conn, index) is False and not await _bounded(
        conn, f"DROP INDEX CONCURRENTLY IF EXISTS {index}"
    ):
        return False
    return await _bounded(conn, f"{match.group(1)} CONCURRENTLY{statement[match.end(1) :]}")


async def _index_valid(conn: Executor, index: str) -> bool | None:
    """Whether ``index`` is valid; None when there is no such index."""
    row = await conn.fetchone("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(?)", (index,))
    return None if row is None else bool(row[0])


async def _bounded(conn: Executor, sql: str) -> bool:
    """Run ``sql`` with its lock waits bounded by :data:`CONCURRENT_WAIT_S`; False when that ran out."""
    await conn.execute(f"SET lock_timeout = {max(1, round(CONCURRENT_WAIT_S * 1000))}")
    try:
        await conn.execute(sql)
        return True
    except Exception as exc:
        if getattr(exc, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        return False
    finally:
        # After a failed or cancelled statement the connection may refuse this; the pool's reset
        # (RESET ALL) runs when it is given back.
        with contextlib.suppress(Exception):
            await conn.execute("RESET lock_timeout")
