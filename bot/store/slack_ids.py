"""SQL that moves stored Slack ids to channel-qualified ones (``"<channel>:<ts>"``, :mod:`bot.message_ids`).

Before, a Slack message was stored under its bare ``ts``, which Slack keeps unique only within a
channel. Each table holding Slack message or thread ids gets one statement per id column:

* where the row names its channel (a ``channel_id`` column), the id is prefixed with it;
* elsewhere (reactions, feedback targets, the community brain's thread state) the channel is looked
  up in ``slack_legacy_ids``, the old-id -> channel map the core step records from ``messages`` and
  ``threads`` before rewriting them. The map stays, so a brain enabled later (its tables migrated
  in a later run) still finds the channel of an old id.

Every statement touches only Slack rows whose id has no separator yet, so it is idempotent, and a
rerun of a half-applied migration finishes the job.
"""

from __future__ import annotations

from bot.message_ids import SEPARATOR

LEGACY_TABLE = "slack_legacy_ids"
_SEP = f"'{SEPARATOR}'"
_BARE = f"'%{SEPARATOR}%'"


def by_channel_column(table: str, column: str) -> str:
    """Prefix ``table.column`` with the row's own ``channel_id``."""
    return (
        f"UPDATE {table} SET {column} = channel_id || {_SEP} || {column} "
        f"WHERE platform = 'slack' AND {column} IS NOT NULL AND {column} <> '' AND {column} NOT LIKE {_BARE}"
    )


def by_lookup(table: str, column: str, prefix: str = "") -> str:
    """Qualify ``table.column`` (a ``prefix`` followed by an id) through the legacy-id map."""
    start = len(prefix) + 1  # SQL substr is 1-based
    old = f"substr({table}.{column}, {start})"
    match = (
        f"FROM {LEGACY_TABLE} l WHERE l.platform = {table}.platform "
        f"AND l.workspace_id = {table}.workspace_id AND l.legacy_id = {old}"
    )
    return (
        f"UPDATE {table} SET {column} = '{prefix}' || (SELECT l.channel_id {match}) || {_SEP} || {old} "
        f"WHERE platform = 'slack' AND {column} LIKE '{prefix}%' AND {old} NOT LIKE {_BARE} "
        f"AND EXISTS (SELECT 1 {match})"
    )


def _remember(table: str, column: str) -> str:
    return (
        f"INSERT INTO {LEGACY_TABLE} (platform, workspace_id, legacy_id, channel_id) "
        f"SELECT platform, workspace_id, {column}, MIN(channel_id) FROM {table} "
        f"WHERE platform = 'slack' AND {column} IS NOT NULL AND {column} NOT LIKE {_BARE} "
        f"GROUP BY platform, workspace_id, {column} ON CONFLICT DO NOTHING"
    )


CORE_STATEMENTS: tuple[str, ...] = (
    f"""CREATE TABLE IF NOT EXISTS {LEGACY_TABLE} (
        platform TEXT NOT NULL, workspace_id TEXT NOT NULL, legacy_id TEXT NOT NULL, channel_id TEXT NOT NULL,
        PRIMARY KEY (platform, workspace_id, legacy_id))""",
    _remember("messages", "message_id"),
    _remember("messages", "thread_id"),
    _remember("threads", "thread_id"),
    by_lookup("reactions", "message_id"),
    by_lookup("feedback", "target_id", prefix="msg:"),
    by_channel_column("messages", "message_id"),
    by_channel_column("messages", "thread_id"),
    by_channel_column("messages", "reply_to"),
    by_channel_column("threads", "thread_id"),
    by_channel_column("threads", "solved_message_id"),
)
