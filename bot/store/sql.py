"""The store: every durable fact Guildhall keeps, behind one class that speaks portable SQL.

All writes are upserts keyed by platform ids, so re-importing or re-delivering the same message,
reaction or channel creates no duplicate. Deleting a message removes its text (the row stays as a
tombstone so a late redelivery of the original post cannot resurrect it).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from bot.store.channel_access import ROLE, ROLE_DENIED, ROLE_OVERRIDE, USER, USER_DENIED, AccessDenials, passes_denials
from bot.store.db import (
    DEFAULT_BUSY_TIMEOUT_S,
    DEFAULT_COMMAND_TIMEOUT_S,
    Database,
    Executor,
    fetch_in,
    open_database,
)
from bot.store.models import ChannelRow, MessageRow, ReactionRow, UserRow
from bot.store.schema import migrate
from bot.valid_text import storable_text

# The column order of message rows (and of :meth:`Store.upsert_message_values` tuples).
MESSAGE_COLUMNS: tuple[str, ...] = (
    "platform",
    "workspace_id",
    "message_id",
    "channel_id",
    "thread_id",
    "reply_to",
    "author_id",
    "ts",
    "edited_ts",
    "deleted",
    "text",
    "is_bot",
    "subtype",
    "permalink",
)
_MESSAGE_COLUMNS = ", ".join(MESSAGE_COLUMNS)

# A re-delivered or re-imported post never overwrites an edit or resurrects a deleted message; a
# row that says the message is deleted erases a stored one, edited or not (deletion is one-way).
_UPSERT_MESSAGE = f"""
INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (platform, workspace_id, message_id) DO UPDATE SET
    channel_id = excluded.channel_id,
    thread_id = COALESCE(excluded.thread_id, messages.thread_id),
    reply_to = COALESCE(excluded.reply_to, messages.reply_to),
    deleted = CASE WHEN excluded.deleted = 1 THEN 1 ELSE messages.deleted END,
    text = CASE WHEN messages.deleted = 1 OR excluded.deleted = 1 THEN ''
                WHEN messages.edited_ts IS NOT NULL AND (excluded.edited_ts IS NULL
                     OR excluded.edited_ts < messages.edited_ts) THEN messages.text
                ELSE excluded.text END,
    edited_ts = CASE WHEN messages.edited_ts IS NULL THEN excluded.edited_ts
                     WHEN excluded.edited_ts IS NULL THEN messages.edited_ts
                     WHEN excluded.edited_ts > messages.edited_ts THEN excluded.edited_ts
                     ELSE messages.edited_ts END,
    permalink = CASE WHEN excluded.permalink <> '' THEN excluded.permalink ELSE messages.permalink END
"""

_EDIT_MESSAGE = (
    "UPDATE messages SET text = ?, edited_ts = ? WHERE platform = ? AND workspace_id = ? "
    "AND message_id = ? AND deleted = 0 AND (edited_ts IS NULL OR edited_ts <= ?)"
)
_ERASE_MESSAGE = "UPDATE messages SET text = '', deleted = 1 WHERE platform = ? AND workspace_id = ? AND message_id = ? AND deleted = 0"
# A deleted channel's messages, and those of its threads (a Discord thread id is a channel id, and a
# deleted Discord thread comes as its own ChannelDeleted), lose their text as a delete would erase it.
# So do those of its Discord private threads, each stored as a channel of its own: Discord sends no
# THREAD_DELETE for them when their parent goes, and discord.py only reports the ones it has cached.
_ERASE_CHANNEL = (
    "UPDATE messages SET text = '', deleted = 1 "
    "WHERE platform = ? AND workspace_id = ? AND deleted = 0 AND (channel_id = ? OR thread_id = ? OR channel_id IN "
    "(SELECT channel_id FROM channels WHERE platform = ? AND workspace_id = ? AND parent_id = ?))"
)
# A delete seen before its message leaves a tombstone, so a late delivery cannot bring the text back.
_TOMBSTONE = (
    f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, NULL, NULL, '', 0, NULL, 1, '', 0, '', '') "
    "ON CONFLICT (platform, workspace_id, message_id) DO NOTHING"
)

# An edit of a message not stored yet (its post is still on the bus: another worker has it, or a
# dead worker's post is reclaimed later) waits here for the post; the newest edit is kept.
_PENDING_EDIT = """
INSERT INTO pending_edits (platform, workspace_id, message_id, channel_id, author_id, text, ts, noted_ts)
SELECT v.platform, v.workspace_id, v.message_id, v.channel_id, v.author_id, v.text, v.ts, v.noted_ts
FROM (SELECT CAST(? AS TEXT) AS platform, CAST(? AS TEXT) AS workspace_id, CAST(? AS TEXT) AS message_id,
             CAST(? AS TEXT) AS channel_id, CAST(? AS TEXT) AS author_id, CAST(? AS TEXT) AS text,
             CAST(? AS DOUBLE PRECISION) AS ts, CAST(? AS DOUBLE PRECISION) AS noted_ts) v
WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.platform = v.platform AND m.workspace_id = v.workspace_id
                  AND m.message_id = v.message_id)
ON CONFLICT (platform, workspace_id, message_id) DO UPDATE SET
    channel_id = CASE WHEN excluded.channel_id <> '' THEN excluded.channel_id ELSE pending_edits.channel_id END,
    author_id = CASE WHEN excluded.author_id <> '' THEN excluded.author_id ELSE pending_edits.author_id END,
    text = excluded.text,
    ts = excluded.ts,
    noted_ts = excluded.noted_ts
WHERE excluded.ts >= pending_edits.ts
"""
# A pending edit leaves once its message is stored (the edit applied or refused by _EDIT_MESSAGE's
# rules); a newer one written meanwhile stays for the next look.
_TAKE_PENDING_EDIT = (
    "DELETE FROM pending_edits WHERE platform = ? AND workspace_id = ? AND message_id = ? AND ts <= ? "
    "AND EXISTS (SELECT 1 FROM messages m WHERE m.platform = pending_edits.platform "
    "AND m.workspace_id = pending_edits.workspace_id AND m.message_id = pending_edits.message_id)"
)
_DROP_PENDING_EDIT = "DELETE FROM pending_edits WHERE platform = ? AND workspace_id = ? AND message_id = ?"

_REMOVE_REACTION = (
    "DELETE FROM reactions WHERE platform = ? AND workspace_id = ? AND message_id = ? AND user_id = ? AND emoji = ?"
)
# A timed removal leaves alone a reaction added after it (the removal was the late one).
_REMOVE_REACTION_BEFORE = _REMOVE_REACTION + " AND ts <= ?"
_NOTE_REMOVAL = """
INSERT INTO reaction_removals (platform, workspace_id, message_id, user_id, emoji, ts, noted_ts)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (platform, workspace_id, message_id, user_id, emoji) DO UPDATE SET
    ts = excluded.ts, noted_ts = excluded.noted_ts
WHERE excluded.ts > reaction_removals.ts
"""

_UPSERT_USER = """
INSERT INTO users (platform, workspace_id, user_id, name, is_bot, tz, external, guest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (platform, workspace_id, user_id) DO UPDATE SET
    name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE users.name END,
    is_bot = excluded.is_bot,
    tz = COALESCE(excluded.tz, users.tz),
    external = COALESCE(excluded.external, users.external),
    guest = COALESCE(excluded.guest, users.guest)
"""

# A ref without a parent (an older event, or a path that does not know it) keeps the stored one.
_UPSERT_CHANNEL = """
INSERT INTO channels (platform, workspace_id, channel_id, name, visibility, is_forum, parent_id, shared_externally)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (platform, workspace_id, channel_id) DO UPDATE SET
    name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE channels.name END,
    visibility = excluded.visibility,
    is_forum = excluded.is_forum,
    parent_id = COALESCE(excluded.parent_id, channels.parent_id),
    shared_externally = COALESCE(excluded.shared_externally, channels.shared_externally)
"""

# A channel whose visibility the adapter could not tell: new ones are stored private, known ones
# keep theirs (a public channel must not vanish from answers and digests on a cache miss).
_UPSERT_CHANNEL_KEEP_VISIBILITY = """
INSERT INTO channels (platform, workspace_id, channel_id, name, visibility, is_forum, parent_id, shared_externally)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (platform, workspace_id, channel_id) DO UPDATE SET
    name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE channels.name END,
    parent_id = COALESCE(excluded.parent_id, channels.parent_id),
    shared_externally = COALESCE(excluded.shared_externally, channels.shared_externally)
"""
_CHANNEL_COLUMNS = "platform, workspace_id, channel_id, name, visibility, is_forum, parent_id, shared_externally"

# An edit as :meth:`Store.edit_messages` takes it: ``(platform, workspace_id, message_id, text,
# edited_ts)``, optionally followed by ``channel_id, author_id`` (kept with an edit that waits for its post).
EditValues = tuple[str, str, str, str, float] | tuple[str, str, str, str, float, str, str]
# A reaction removal as :meth:`Store.remove_reactions` takes it: its key, optionally followed by its time.
RemovalValues = tuple[str, str, str, str, str] | tuple[str, str, str, str, str, float]

# Dedupe marks deleted per statement by Store.purge_processed: a short write each.
PURGE_BATCH = 5000


def clean_text(text: str) -> str:
    """Text as stored: NUL characters and lone surrogates become U+FFFD (PostgreSQL refuses NUL in
    text and neither backend can encode a lone surrogate; SQLite would keep NUL, and both backends
    must store the same thing)."""
    return storable_text(text)


def _message_params(m: MessageRow) -> tuple[Any, ...]:
    return (
        m.platform,
        m.workspace_id,
        m.message_id,
        m.channel_id,
        m.thread_id,
        m.reply_to,
        m.author_id,
        m.ts,
        m.edited_ts,
        int(m.deleted),
        "" if m.deleted else clean_text(m.text),
        int(m.is_bot),
        m.subtype,
        m.permalink,
    )


def _row_to_message(row: Sequence[Any]) -> MessageRow:
    (platform, ws, mid, cid, tid, reply_to, author, ts, edited, deleted, text, is_bot, subtype, link) = row
    return MessageRow(
        platform=platform,
        workspace_id=ws,
        message_id=mid,
        channel_id=cid,
        thread_id=tid,
        reply_to=reply_to,
        author_id=author,
        ts=float(ts),
        edited_ts=float(edited) if edited is not None else None,
        deleted=bool(deleted),
        text=text,
        is_bot=bool(is_bot),
        subtype=subtype,
        permalink=link,
    )


def _row_to_channel(row: Sequence[Any]) -> ChannelRow:
    platform, ws, cid, name, visibility, is_forum, parent_id, shared = row
    return ChannelRow(
        platform, ws, cid, name, visibility, bool(is_forum), parent_id, None if shared is None else bool(shared)
    )


OPTED_OUT_KEY = "opted_out"  # the member setting `/optout` sets (and `/optin` clears)


class Store:
    """Durable facts: workspaces, channels (with access), users, messages, reactions, settings,
    feedback, audit. ``db`` is exposed so brains can keep their own tables (registered migrations).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.db.dialect

    async def migrate(self) -> list[str]:
        """Apply pending migrations (core and registered)."""
        return await migrate(self.db)

    async def close(self) -> None:
        """Close the database."""
        await self.db.close()

    # -- workspaces, channels, users ----------------------------------------------------------
    async def upsert_workspace(
        self, platform: str, workspace_id: str, name: str = "", tx: Executor | None = None
    ) -> None:
        """Record a workspace (guild / team)."""
        await (tx or self.db).execute(
            "INSERT INTO workspaces (platform, workspace_id, name) VALUES (?, ?, ?) "
            "ON CONFLICT (platform, workspace_id) DO UPDATE SET "
            "name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE workspaces.name END",
            (platform, workspace_id, clean_text(name)),
        )

    async def upsert_channels(
        self, channels: Iterable[ChannelRow], tx: Executor | None = None, *, keep_visibility: bool = False
    ) -> None:
        """Insert or update channels.

        ``keep_visibility``: the rows' visibility is a guess (the adapter could not tell): a channel
        already stored keeps its visibility and forum flag; a new one is stored as the row says.
        """
        rows = [
            (
                c.platform,
                c.workspace_id,
                c.channel_id,
                clean_text(c.name),
                c.visibility,
                int(c.is_forum),
                c.parent_id,
                None if c.shared_externally is None else int(c.shared_externally),
            )
            for c in channels
        ]
        if rows:
            await (tx or self.db).executemany(
                _UPSERT_CHANNEL_KEEP_VISIBILITY if keep_visibility else _UPSERT_CHANNEL, rows
            )

    async def set_channel_access(
        self,
        platform: str,
        workspace_id: str,
        channel_id: str,
        *,
        user_ids: Iterable[str] = (),
        role_ids: Iterable[str] = (),
        replace: bool = True,
        tx: Executor | None = None,
        denials: AccessDenials | None = None,
    ) -> None:
        """Record who may read a private channel or DM (members and/or roles), and whom a
        permission overwrite keeps out (``denials``, see :meth:`readable_channel_ids`)."""
        rows = [(platform, workspace_id, channel_id, USER, u) for u in user_ids]
        rows += [(platform, workspace_id, channel_id, ROLE, r) for r in role_ids]
        if denials is not None:
            rows += [(platform, workspace_id, channel_id, USER_DENIED, u) for u in denials.user_ids]
            rows += [(platform, workspace_id, channel_id, ROLE_DENIED, r) for r in denials.role_ids]
            rows += [(platform, workspace_id, channel_id, ROLE_OVERRIDE, r) for r in denials.override_role_ids]
        if tx is not None:
            await self._set_channel_access(tx, platform, workspace_id, channel_id, rows, replace)
            return
        async with self.db.transaction() as own:
            await self._set_channel_access(own, platform, workspace_id, channel_id, rows, replace)

    async def has_channel_access(
        self, platform: str, workspace_id: str, channel_id: str, *, tx: Executor | None = None
    ) -> bool:
        """Whether the store holds any access list for a channel: a reader, a role or a denial."""
        row = await (tx or self.db).fetchone(
            "SELECT 1 FROM channel_access WHERE platform = ? AND workspace_id = ? AND channel_id = ? LIMIT 1",
            (platform, workspace_id, channel_id),
        )
        return row is not None

    async def remove_channel_reader(
        self, platform: str, workspace_id: str, channel_id: str, user_id: str, *, tx: Executor | None = None
    ) -> None:
        """Take one member off a private channel's access list (they left it); role grants and
        permission denials stay as they are."""
        await (tx or self.db).execute(
            "DELETE FROM channel_access WHERE platform = ? AND workspace_id = ? AND channel_id = ? "
            "AND principal_kind = ? AND principal_id = ?",
            (platform, workspace_id, channel_id, USER, user_id),
        )

    async def _set_channel_access(
        self,
        tx: Executor,
        platform: str,
        workspace_id: str,
        channel_id: str,
        rows: list[tuple[str, str, str, str, str]],
        replace: bool,
    ) -> None:
        if replace:
            await tx.execute(
                "DELETE FROM channel_access WHERE platform = ? AND workspace_id = ? AND channel_id = ?",
                (platform, workspace_id, channel_id),
            )
        if rows:
            await tx.executemany(
                "INSERT INTO channel_access (platform, workspace_id, channel_id, principal_kind, principal_id) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )

    async def get_channel(self, platform: str, workspace_id: str, channel_id: str) -> ChannelRow | None:
        """One channel, or None."""
        row = await self.db.fetchone(
            f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE platform = ? AND workspace_id = ? AND channel_id = ?",
            (platform, workspace_id, channel_id),
        )
        return _row_to_channel(row) if row else None

    async def find_channel_id(self, platform: str, workspace_id: str, id_or_name: str) -> str | None:
        """A channel id from an id or a plain name (``#`` stripped; Slack ids are not names); None when unknown."""
        text = id_or_name.strip().lstrip("#")
        row = await self.db.fetchone(
            "SELECT channel_id FROM channels WHERE platform = ? AND workspace_id = ? AND (channel_id = ? OR name = ?) "
            "ORDER BY CASE WHEN channel_id = ? THEN 0 ELSE 1 END",
            (platform, workspace_id, text, text, text),
        )
        return str(row[0]) if row else None

    async def find_channel_ids(self, platform: str, workspace_id: str, id_or_name: str) -> list[str]:
        """Every channel ``id_or_name`` names (``#`` stripped): the channel with that id, else every
        channel going by that name (Discord allows one name in several categories, and private
        threads are channels too); empty when none."""
        text = id_or_name.strip().lstrip("#")
        rows = await self.db.fetchall(
            "SELECT channel_id, channel_id = ? FROM channels WHERE platform = ? AND workspace_id = ? "
            "AND (channel_id = ? OR name = ?) ORDER BY channel_id",
            (text, platform, workspace_id, text, text),
        )
        exact = [str(r[0]) for r in rows if r[1]]
        return exact or [str(r[0]) for r in rows]

    async def list_channels(self, platform: str, workspace_id: str) -> list[ChannelRow]:
        """All channels of a workspace."""
        rows = await self.db.fetchall(
            f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE platform = ? AND workspace_id = ? ORDER BY name",
            (platform, workspace_id),
        )
        return [_row_to_channel(r) for r in rows]

    async def is_shared_externally(self, platform: str, workspace_id: str, channel_id: str) -> bool:
        """Whether the store knows ``channel_id`` as read by people of another organisation (Slack Connect)."""
        row = await self.db.fetchone(
            "SELECT 1 FROM channels WHERE platform = ? AND workspace_id = ? AND channel_id = ? AND shared_externally = 1",
            (platform, workspace_id, channel_id),
        )
        return row is not None

    async def child_channel_ids(self, platform: str, workspace_id: str, parent_id: str) -> list[str]:
        """The channels stored under ``parent_id``: a Discord channel's private threads (each a
        channel of its own), which go when it is deleted. Threads recorded before the store kept
        parents (migration ``core-0004``) are not listed until they are seen again."""
        rows = await self.db.fetchall(
            "SELECT channel_id FROM channels WHERE platform = ? AND workspace_id = ? AND parent_id = ? "
            "ORDER BY channel_id",
            (platform, workspace_id, parent_id),
        )
        return [str(r[0]) for r in rows]

    async def readable_channel_ids(
        self, platform: str, workspace_id: str, user_id: str, role_ids: Sequence[str] = (), *, guest: bool = False
    ) -> set[str]:
        """Channels ``user_id`` may read: public ones (for a guest, only those they posted in), plus
        private channels and DMs that list the user (or one of ``role_ids``) in their access list,
        minus those an overwrite keeps them out of. ``guest``: the caller knows the member is a guest
        (the store's word counts too).

        A role listed under the workspace's own id is everyone's (Discord's @everyone role has the
        guild's id). Denials (private and restricted channels) follow Discord's order: a member
        denied by their own overwrite never reads; one holding a denied role reads only through a
        role with an overriding overwrite. The roles count as known only when ``role_ids`` holds the
        workspace's own id (the @everyone role every member holds, which the adapter includes when
        it knows the member's roles there); otherwise (a digest, a DM from a member not cached in
        this guild, roles of other guilds only) a channel that denies any role is left out, the
        safe side.
        """
        if guest or await self.is_guest(platform, workspace_id, user_id):
            # A guest reads the channels they are in, not every public one: those they posted in
            # (the store keeps no member list of public channels) and those listing them.
            public = await self.db.fetchall(
                "SELECT DISTINCT m.channel_id FROM messages m JOIN channels c ON c.platform = m.platform "
                "AND c.workspace_id = m.workspace_id AND c.channel_id = m.channel_id "
                "WHERE m.platform = ? AND m.workspace_id = ? AND m.author_id = ? AND c.visibility = 'public'",
                (platform, workspace_id, user_id),
            )
        else:
            public = await self.db.fetchall(
                "SELECT channel_id FROM channels WHERE platform = ? AND workspace_id = ? AND visibility = 'public'",
                (platform, workspace_id),
            )
        public_ids = {r[0] for r in public}
        granted = await self.db.fetchall(
            "SELECT channel_id FROM channel_access WHERE platform = ? AND workspace_id = ? "
            f"AND principal_kind = '{USER}' AND principal_id = ?",
            (platform, workspace_id, user_id),
        )
        ids = public_ids | {r[0] for r in granted}
        roles = sorted({*role_ids, workspace_id})
        rows = await self.db.fetchall(
            "SELECT channel_id FROM channel_access WHERE platform = ? AND workspace_id = ? "
            f"AND principal_kind = '{ROLE}' AND principal_id IN ({', '.join('?' * len(roles))})",
            (platform, workspace_id, *roles),
        )
        ids |= {r[0] for r in rows}
        rules = await self.db.fetchall(
            "SELECT channel_id, principal_kind, principal_id FROM channel_access "
            "WHERE platform = ? AND workspace_id = ? AND principal_kind IN (?, ?, ?)",
            (platform, workspace_id, USER_DENIED, ROLE_DENIED, ROLE_OVERRIDE),
        )
        by_channel: dict[str, list[tuple[str, str]]] = {}
        for channel_id, kind, principal in rules:
            # Stale rules of a channel now public (a ChannelSeen keeps no access list for those) never count.
            if channel_id in ids and channel_id not in public_ids:
                by_channel.setdefault(channel_id, []).append((kind, principal))
        # Roles of another guild (a DM names the member's roles in every guild they share with the
        # bot) say nothing about the roles held here.
        known_roles = set(role_ids) if workspace_id in role_ids else set()
        for channel_id, channel_rules in by_channel.items():
            if not passes_denials(channel_rules, user_id, known_roles):
                ids.discard(channel_id)
        await self._drop_children_of_unreadable_parents(platform, workspace_id, ids)
        return ids

    async def _drop_children_of_unreadable_parents(self, platform: str, workspace_id: str, ids: set[str]) -> None:
        """Take out of ``ids`` the non-public channels stored under a parent not in ``ids``.

        Discord shows a private thread (stored as a private channel of its own, with ``parent_id``)
        only to those who can view its parent, but the parent's overwrites are copied onto the
        thread only when it is created: a member or role the parent shuts out later, or a parent
        made private without them, must lose the thread as well. A public parent is readable; a
        parent the store does not hold says nothing (the thread keeps its own list). Slack channels,
        DMs and Discord's public threads and forum posts (stored under their parent's row) carry
        no parent and are untouched.
        """
        rows = await self.db.fetchall(
            "SELECT c.channel_id, c.parent_id FROM channels c JOIN channels p "
            "ON p.platform = c.platform AND p.workspace_id = c.workspace_id AND p.channel_id = c.parent_id "
            "WHERE c.platform = ? AND c.workspace_id = ? AND c.parent_id IS NOT NULL "
            "AND c.parent_id <> c.channel_id AND c.visibility <> 'public' AND p.visibility <> 'public'",
            (platform, workspace_id),
        )
        parents = {str(r[0]): str(r[1]) for r in rows}
        # Until nothing changes: a parent that is itself a child loses its own children with it.
        changed = True
        while changed:
            changed = False
            for child, parent in parents.items():
                if child in ids and parent not in ids:
                    ids.discard(child)
                    changed = True

    async def upsert_users(self, users: Iterable[UserRow], tx: Executor | None = None) -> None:
        """Insert or update members."""
        rows = [
            (
                u.platform,
                u.workspace_id,
                u.user_id,
                clean_text(u.name),
                int(u.is_bot),
                u.tz,
                None if u.external is None else int(u.external),
                None if u.guest is None else int(u.guest),
            )
            for u in users
        ]
        if rows:
            await (tx or self.db).executemany(_UPSERT_USER, rows)

    async def get_user(self, platform: str, workspace_id: str, user_id: str) -> UserRow | None:
        """One member, or None."""
        row = await self.db.fetchone(
            "SELECT platform, workspace_id, user_id, name, is_bot, tz, external, guest FROM users "
            "WHERE platform = ? AND workspace_id = ? AND user_id = ?",
            (platform, workspace_id, user_id),
        )
        if row is None:
            return None
        external, guest = (None if v is None else bool(v) for v in row[6:8])
        return UserRow(row[0], row[1], row[2], row[3], bool(row[4]), row[5], external, guest)

    async def is_guest(self, platform: str, workspace_id: str, user_id: str) -> bool:
        """Whether the member is a guest who reads only the channels they are in."""
        return await self._user_flag(platform, workspace_id, user_id, "guest")

    async def is_external(self, platform: str, workspace_id: str, user_id: str) -> bool:
        """Whether the person is of another organisation (Slack Connect)."""
        return await self._user_flag(platform, workspace_id, user_id, "external")

    async def guests_in(self, platform: str, workspace_id: str, channel_id: str, *, besides: str = "") -> bool:
        """Whether a guest (who reads only the channels they are in) other than ``besides`` is known
        to read ``channel_id``: they posted there or its access list names them. They read what is
        answered there."""
        row = await self.db.fetchone(
            "SELECT 1 FROM users u WHERE u.platform = ? AND u.workspace_id = ? AND u.guest = 1 AND u.user_id <> ? "
            "AND (EXISTS (SELECT 1 FROM messages m WHERE m.platform = u.platform AND m.workspace_id = u.workspace_id "
            "AND m.author_id = u.user_id AND m.channel_id = ?) "
            "OR EXISTS (SELECT 1 FROM channel_access a WHERE a.platform = u.platform AND a.workspace_id = u.workspace_id "
            f"AND a.channel_id = ? AND a.principal_kind = '{USER}' AND a.principal_id = u.user_id)) LIMIT 1",
            (platform, workspace_id, besides, channel_id, channel_id),
        )
        return row is not None

    async def _user_flag(self, platform: str, workspace_id: str, user_id: str, column: str) -> bool:
        row = await self.db.fetchone(
            f"SELECT 1 FROM users WHERE platform = ? AND workspace_id = ? AND user_id = ? AND {column} = 1",
            (platform, workspace_id, user_id),
        )
        return row is not None

    # -- messages ------------------------------------------------------------------------------
    async def upsert_messages(self, messages: Iterable[MessageRow], tx: Executor | None = None) -> int:
        """Insert or update messages in one statement batch; returns how many rows were given.
        An edit that came before its post (:meth:`edit_message`) is applied to it."""
        rows = [_message_params(m) for m in messages]
        if rows:
            ex = tx or self.db
            await ex.executemany(_UPSERT_MESSAGE, rows)
            await self.apply_pending_edits([(r[0], r[1], r[2]) for r in rows], tx=ex)
        return len(rows)

    async def edit_message(
        self,
        platform: str,
        workspace_id: str,
        message_id: str,
        text: str,
        edited_ts: float,
        tx: Executor | None = None,
        *,
        channel_id: str = "",
        author_id: str = "",
    ) -> bool:
        """Apply an edit unless the message is deleted or a newer edit is stored; True if applied.

        The edit of a message not stored yet (its post still on the bus, overtaken) is kept in
        ``pending_edits`` until the post comes (:meth:`apply_pending_edits`): the post's original
        text must not stay stored when its author edited it out. ``channel_id`` and ``author_id``
        let a channel deletion and ``/forget-me`` reach that row.
        """
        ex = tx or self.db
        text = clean_text(text)
        count = await ex.execute(_EDIT_MESSAGE, (text, edited_ts, platform, workspace_id, message_id, edited_ts))
        if count == 0:
            await ex.execute(
                _PENDING_EDIT,
                (platform, workspace_id, message_id, channel_id, author_id, text, edited_ts, time.time()),
            )
        return count > 0

    async def apply_pending_edits(self, keys: Iterable[tuple[str, str, str]], tx: Executor | None = None) -> int:
        """Apply the pending edits (:meth:`edit_message`) of the messages ``(platform, workspace_id,
        message_id)`` now stored, with the rules of :meth:`edit_message`, and drop them; returns how
        many were found. Those of messages still missing stay.

        Posts call it (:meth:`upsert_messages`, :meth:`upsert_message_values`); on PostgreSQL the
        recorder calls it again after its transaction commits, for the posts and edits it wrote: a
        post and its edit written by two workers at once each miss the other's uncommitted row, and
        of two such looks made after both commits one sees both.
        """
        ex = tx or self.db
        by_workspace: dict[tuple[str, str], set[str]] = {}
        for platform, workspace_id, message_id in keys:
            by_workspace.setdefault((platform, workspace_id), set()).add(message_id)
        if not by_workspace or await ex.fetchone("SELECT 1 FROM pending_edits LIMIT 1") is None:
            return 0  # the usual case, one cheap query (imports upsert thousands of posts a batch)
        found: list[tuple[str, str, str, str, float]] = []
        for (platform, workspace_id), ids in by_workspace.items():
            rows = await fetch_in(
                ex,
                "SELECT message_id, text, ts FROM pending_edits WHERE platform = ? AND workspace_id = ? "
                "AND message_id IN",
                (platform, workspace_id),
                sorted(ids),
            )
            found += [(platform, workspace_id, str(r[0]), str(r[1]), float(r[2])) for r in rows]
        if found:
            await ex.executemany(_EDIT_MESSAGE, [(text, ets, p, ws, mid, ets) for p, ws, mid, text, ets in found])
            await ex.executemany(_TAKE_PENDING_EDIT, [(p, ws, mid, ets) for p, ws, mid, _, ets in found])
        return len(found)

    async def delete_message(
        self, platform: str, workspace_id: str, message_id: str, channel_id: str = "", tx: Executor | None = None
    ) -> bool:
        """Erase a message's text, keeping a tombstone; True if a stored message changed.

        If the message was never stored (deleted before we saw it), a tombstone is written so a
        late delivery of the original cannot bring the text back.
        """
        ex = tx or self.db
        count = await ex.execute(_ERASE_MESSAGE, (platform, workspace_id, message_id))
        if count == 0 and channel_id:
            await ex.execute(_TOMBSTONE, (platform, workspace_id, message_id, channel_id))
        await ex.execute(_DROP_PENDING_EDIT, (platform, workspace_id, message_id))
        return count > 0

    async def erase_channel(self, platform: str, workspace_id: str, channel_id: str, tx: Executor | None = None) -> int:
        """Erase the text of every message of a deleted channel or thread, its threads' and its
        private threads' (:meth:`child_channel_ids`) included; rows stay as tombstones, so a late
        delivery cannot bring the text back. Returns how many changed. Pending edits of the
        channel's messages (:meth:`edit_message`) go too."""
        ex = tx or self.db
        await ex.execute(
            "DELETE FROM pending_edits WHERE platform = ? AND workspace_id = ? AND (channel_id = ? OR channel_id IN "
            "(SELECT channel_id FROM channels WHERE platform = ? AND workspace_id = ? AND parent_id = ?))",
            (platform, workspace_id, channel_id, platform, workspace_id, channel_id),
        )
        return await ex.execute(
            _ERASE_CHANNEL, (platform, workspace_id, channel_id, channel_id, platform, workspace_id, channel_id)
        )

    async def upsert_message_values(self, rows: Sequence[tuple[Any, ...]], tx: Executor | None = None) -> None:
        """The bulk path of :meth:`upsert_messages` for the recorder: rows are already tuples in
        :data:`MESSAGE_COLUMNS` order (``deleted`` and ``is_bot`` as 0/1), skipping one row object
        per message on imports. Pending edits of these posts are applied (:meth:`apply_pending_edits`)."""
        if rows:
            ex = tx or self.db
            await ex.executemany(
                _UPSERT_MESSAGE, [r if "\x00" not in r[10] else (*r[:10], clean_text(r[10]), *r[11:]) for r in rows]
            )
            await self.apply_pending_edits([(str(r[0]), str(r[1]), str(r[2])) for r in rows], tx=ex)

    async def edit_messages(self, edits: Sequence[EditValues], tx: Executor | None = None) -> None:
        """Apply many edits ``(platform, workspace_id, message_id, text, edited_ts[, channel_id,
        author_id])`` in order, with the rules of :meth:`edit_message` (pending edits of messages not
        stored yet included), as two statement batches."""
        if not edits:
            return
        ex = tx or self.db
        rows = [(e[0], e[1], e[2], clean_text(e[3]), e[4], *(e[5:] if len(e) == 7 else ("", ""))) for e in edits]
        await ex.executemany(_EDIT_MESSAGE, [(text, ets, p, ws, mid, ets) for p, ws, mid, text, ets, _, _ in rows])
        # A no-op for every stored message (NOT EXISTS): only edits that overtook their post wait.
        noted = time.time()
        await ex.executemany(
            _PENDING_EDIT, [(p, ws, mid, ch, author, text, ets, noted) for p, ws, mid, text, ets, ch, author in rows]
        )

    async def delete_messages(self, deletes: Sequence[tuple[str, str, str, str]], tx: Executor | None = None) -> None:
        """Erase many messages ``(platform, workspace_id, message_id, channel_id)`` with the rules of
        :meth:`delete_message`, as two statement batches.

        The tombstone insert does nothing for a stored message, so running every erase first and
        every tombstone second leaves the same rows as deleting one by one.
        """
        if not deletes:
            return
        ex = tx or self.db
        await ex.executemany(_ERASE_MESSAGE, [(p, ws, mid) for p, ws, mid, _ in deletes])
        tombstones = [(p, ws, mid, ch) for p, ws, mid, ch in deletes if ch]
        if tombstones:
            await ex.executemany(_TOMBSTONE, tombstones)
        await ex.executemany(_DROP_PENDING_EDIT, [(p, ws, mid) for p, ws, mid, _ in deletes])

    async def get_message(self, platform: str, workspace_id: str, message_id: str) -> MessageRow | None:
        """One message (deleted ones come back with empty text and ``deleted=True``)."""
        row = await self.db.fetchone(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE platform = ? AND workspace_id = ? AND message_id = ?",
            (platform, workspace_id, message_id),
        )
        return _row_to_message(row) if row else None

    async def thread_messages(self, platform: str, workspace_id: str, thread_id: str) -> list[MessageRow]:
        """Live messages of a thread (root included when it shares the thread id), oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE platform = ? AND workspace_id = ? "
            "AND (thread_id = ? OR message_id = ?) AND deleted = 0 ORDER BY ts",
            (platform, workspace_id, thread_id, thread_id),
        )
        return [_row_to_message(r) for r in rows]

    async def replies_to(
        self, platform: str, workspace_id: str, channel_id: str, message_id: str, *, since: float = 0.0
    ) -> list[MessageRow]:
        """Live inline replies to a message in its channel (Discord's "reply", which opens no
        thread: ``reply_to`` names the message), oldest first. ``since`` (the message's own time:
        no reply comes before it) keeps the lookup to a range of the channel's time index."""
        rows = await self.db.fetchall(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE platform = ? AND workspace_id = ? AND channel_id = ? "
            "AND ts >= ? AND reply_to = ? AND deleted = 0 ORDER BY ts",
            (platform, workspace_id, channel_id, since, message_id),
        )
        return [_row_to_message(r) for r in rows]

    async def messages_by_author(self, platform: str, workspace_id: str, user_id: str) -> list[MessageRow]:
        """A member's live messages in one workspace, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE platform = ? AND workspace_id = ? AND author_id = ? "
            "AND deleted = 0 ORDER BY ts",
            (platform, workspace_id, user_id),
        )
        return [_row_to_message(r) for r in rows]

    async def channel_messages(
        self,
        platform: str,
        workspace_id: str,
        channel_id: str,
        *,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> list[MessageRow]:
        """Live messages of a channel in time order, optionally within ``[since, until)``."""
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE platform = ? AND workspace_id = ? AND channel_id = ? AND deleted = 0"
        params: list[Any] = [platform, workspace_id, channel_id]
        if since is not None:
            sql += " AND ts >= ?"
            params.append(since)
        if until is not None:
            sql += " AND ts < ?"
            params.append(until)
        sql += " ORDER BY ts"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_row_to_message(r) for r in await self.db.fetchall(sql, params)]

    async def iter_messages(
        self,
        *,
        platform: str | None = None,
        workspace_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        batch: int = 5000,
    ) -> Any:
        """Yield live messages in time order, in pages (keyset pagination on ``ts, message_id,
        platform, workspace_id``)."""
        # The key must be unique: ``message_id`` is only unique within a workspace, and two
        # workspaces' messages with the same id and time (a re-imported demo, Slack's per-channel
        # ts) that straddled a page boundary lost the second one.
        last: tuple[float, str, str, str] = (-1e18, "", "", "")
        while True:
            sql = (
                f"SELECT {_MESSAGE_COLUMNS} FROM messages "
                "WHERE deleted = 0 AND (ts, message_id, platform, workspace_id) > (?, ?, ?, ?)"
            )
            params: list[Any] = [*last]
            if platform is not None:
                sql += " AND platform = ?"
                params.append(platform)
            if workspace_id is not None:
                sql += " AND workspace_id = ?"
                params.append(workspace_id)
            if since is not None:
                sql += " AND ts >= ?"
                params.append(since)
            if until is not None:
                sql += " AND ts < ?"
                params.append(until)
            sql += " ORDER BY ts, message_id, platform, workspace_id LIMIT ?"
            params.append(batch)
            rows = await self.db.fetchall(sql, params)
            if not rows:
                return
            for row in rows:
                yield _row_to_message(row)
            end = rows[-1]
            last = (float(end[7]), end[2], end[0], end[1])

    async def upsert_thread(
        self,
        platform: str,
        workspace_id: str,
        thread_id: str,
        channel_id: str,
        *,
        title: str = "",
        author_id: str = "",
        ts: float,
        is_forum_post: bool = False,
        tx: Executor | None = None,
    ) -> None:
        """Record a thread's metadata."""
        await (tx or self.db).execute(
            "INSERT INTO threads (platform, workspace_id, thread_id, channel_id, title, author_id, ts, is_forum_post) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace_id, thread_id) DO UPDATE SET "
            "title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE threads.title END, "
            "is_forum_post = excluded.is_forum_post",
            (platform, workspace_id, thread_id, channel_id, clean_text(title), author_id, ts, int(is_forum_post)),
        )

    async def mark_thread_solved(self, platform: str, workspace_id: str, thread_id: str, message_id: str) -> None:
        """Record the accepted answer of a thread."""
        await self.db.execute(
            "UPDATE threads SET solved_message_id = ? WHERE platform = ? AND workspace_id = ? AND thread_id = ?",
            (message_id, platform, workspace_id, thread_id),
        )

    # -- reactions -----------------------------------------------------------------------------
    async def add_reactions(self, reactions: Iterable[ReactionRow], tx: Executor | None = None) -> None:
        """Record reactions (one per member, message and emoji), except those a removal at or after
        their time took back already (:meth:`remove_reaction` with a time): an add delivered after
        its own removal (reordered on the bus) must not bring the reaction back."""
        ex = tx or self.db
        rows = [(r.platform, r.workspace_id, r.message_id, r.user_id, r.emoji, r.ts) for r in reactions]
        if not rows:
            return
        removed = await self._removals(ex, {(r[0], r[1], r[2]) for r in rows})
        if removed:
            rows = [r for r in rows if removed.get(r[:5], float("-inf")) < r[5]]
        if rows:
            await ex.executemany(
                "INSERT INTO reactions (platform, workspace_id, message_id, user_id, emoji, ts) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )

    async def _removals(
        self, ex: Executor, messages: set[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str, str, str], float]:
        """The removal times noted on ``messages`` ``(platform, workspace_id, message_id)``, by reaction
        key. Looked up (not a NOT EXISTS in the insert) so the insert stays a plain multi-row one on
        SQLite (:mod:`bot.store.sqlite_batch`): imports add reactions by the thousand."""
        if not messages or await ex.fetchone("SELECT 1 FROM reaction_removals LIMIT 1") is None:
            return {}
        by_workspace: dict[tuple[str, str], list[str]] = {}
        for platform, workspace_id, message_id in sorted(messages):
            by_workspace.setdefault((platform, workspace_id), []).append(message_id)
        found: dict[tuple[str, str, str, str, str], float] = {}
        for (platform, workspace_id), ids in by_workspace.items():
            rows = await fetch_in(
                ex,
                "SELECT message_id, user_id, emoji, ts FROM reaction_removals WHERE platform = ? "
                "AND workspace_id = ? AND message_id IN",
                (platform, workspace_id),
                ids,
            )
            for mid, uid, emoji, ts in rows:
                found[(platform, workspace_id, str(mid), str(uid), str(emoji))] = float(ts)
        return found

    async def remove_reaction(
        self,
        platform: str,
        workspace_id: str,
        message_id: str,
        user_id: str,
        emoji: str,
        tx: Executor | None = None,
        *,
        ts: float | None = None,
    ) -> bool:
        """Forget one reaction; True if it existed.

        ``ts``: when it was removed. A reaction added after that stays, and the removal is noted
        (``reaction_removals``) so an add from before it, delivered later, is not stored
        (:meth:`add_reactions`).
        """
        ex = tx or self.db
        key = (platform, workspace_id, message_id, user_id, emoji)
        if ts is None:
            return await ex.execute(_REMOVE_REACTION, key) > 0
        count = await ex.execute(_REMOVE_REACTION_BEFORE, (*key, ts))
        await ex.execute(_NOTE_REMOVAL, (*key, ts, time.time()))
        return count > 0

    async def remove_reactions(self, reactions: Sequence[RemovalValues], tx: Executor | None = None) -> None:
        """Forget many reactions ``(platform, workspace_id, message_id, user_id, emoji[, ts])``, with
        the rules of :meth:`remove_reaction`."""
        if not reactions:
            return
        ex = tx or self.db
        untimed = [r for r in reactions if len(r) == 5]
        timed = [r for r in reactions if len(r) == 6]
        if untimed:
            await ex.executemany(_REMOVE_REACTION, untimed)
        if timed:
            await ex.executemany(_REMOVE_REACTION_BEFORE, timed)
            noted = time.time()
            await ex.executemany(_NOTE_REMOVAL, [(*r, noted) for r in timed])

    async def settle_reactions(self, keys: Iterable[tuple[str, str, str, str, str]]) -> None:
        """Drop the reactions ``(platform, workspace_id, message_id, user_id, emoji)`` that a noted
        removal at or after their time covers. The recorder runs it on PostgreSQL after its
        transaction commits: an add and its removal written by two workers at once each miss the
        other's uncommitted row, and of two such looks made after both commits one sees both."""
        rows = sorted(set(keys))
        if rows:
            await self.db.executemany(
                _REMOVE_REACTION
                + " AND EXISTS (SELECT 1 FROM reaction_removals r WHERE r.platform = reactions.platform "
                "AND r.workspace_id = reactions.workspace_id AND r.message_id = reactions.message_id "
                "AND r.user_id = reactions.user_id AND r.emoji = reactions.emoji AND r.ts >= reactions.ts)",
                rows,
            )

    async def erase_member_pending(
        self, platform: str, workspace_id: str, user_id: str, tx: Executor | None = None
    ) -> int:
        """``/forget-me``: delete the member's pending edits and noted reaction removals; returns how many."""
        ex = tx or self.db
        edits = await ex.execute(
            "DELETE FROM pending_edits WHERE platform = ? AND workspace_id = ? AND author_id = ?",
            (platform, workspace_id, user_id),
        )
        removals = await ex.execute(
            "DELETE FROM reaction_removals WHERE platform = ? AND workspace_id = ? AND user_id = ?",
            (platform, workspace_id, user_id),
        )
        return edits + removals

    async def purge_pending_changes(self, before_ts: float) -> int:
        """Delete the pending edits and noted reaction removals written before ``before_ts`` (with
        the dedupe marks, daily): a post or add delivered later than that is not expected. Returns
        how many."""
        total = 0
        for table in ("pending_edits", "reaction_removals"):
            total += await self.db.execute(f"DELETE FROM {table} WHERE noted_ts < ?", (before_ts,))
        return total

    async def reactions_for(self, platform: str, workspace_id: str, message_id: str) -> list[ReactionRow]:
        """Reactions on one message."""
        return await self._reactions("message_id = ?", (platform, workspace_id, message_id))

    async def reactions_between(
        self, platform: str, workspace_id: str, since: float, until: float
    ) -> list[ReactionRow]:
        """Every reaction in ``[since, until)``, in time order (profiles learn from them in bulk)."""
        return await self._reactions("ts >= ? AND ts < ?", (platform, workspace_id, since, until))

    async def _reactions(self, where: str, params: tuple[Any, ...]) -> list[ReactionRow]:
        rows = await self.db.fetchall(
            "SELECT platform, workspace_id, message_id, user_id, emoji, ts FROM reactions "
            f"WHERE platform = ? AND workspace_id = ? AND {where} ORDER BY ts",
            params,
        )
        return [ReactionRow(r[0], r[1], r[2], r[3], r[4], float(r[5])) for r in rows]

    # -- settings ------------------------------------------------------------------------------
    async def set_member_setting(
        self,
        platform: str,
        workspace_id: str,
        user_id: str,
        key: str,
        value: Any,
        *,
        only_if_changed: bool = False,
        tx: Executor | None = None,
    ) -> bool:
        """Store a per-member setting (JSON-encoded); True when a row was written.

        ``only_if_changed``: leave a row already holding ``value`` untouched (False then), in one
        statement, so of two processes setting the same value at once exactly one gets True.
        """
        changed = await (tx or self.db).execute(
            "INSERT INTO member_settings (platform, workspace_id, user_id, key, value, updated_ts) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (platform, workspace_id, user_id, key) DO UPDATE SET value = excluded.value, updated_ts = excluded.updated_ts"
            + (" WHERE member_settings.value <> excluded.value" if only_if_changed else ""),
            (platform, workspace_id, user_id, key, json.dumps(value), time.time()),
        )
        return changed > 0

    async def delete_member_setting(
        self, platform: str, workspace_id: str, user_id: str, key: str, *, tx: Executor | None = None
    ) -> None:
        """Remove a per-member setting (nothing when it is not set)."""
        await (tx or self.db).execute(
            "DELETE FROM member_settings WHERE platform = ? AND workspace_id = ? AND user_id = ? AND key = ?",
            (platform, workspace_id, user_id, key),
        )

    async def get_member_setting(
        self, platform: str, workspace_id: str, user_id: str, key: str, default: Any = None
    ) -> Any:
        """Read a per-member setting, or ``default``."""
        row = await self.db.fetchone(
            "SELECT value FROM member_settings WHERE platform = ? AND workspace_id = ? AND user_id = ? AND key = ?",
            (platform, workspace_id, user_id, key),
        )
        return json.loads(row[0]) if row else default

    async def members_with_setting(self, platform: str, workspace_id: str, key: str, value: Any) -> set[str]:
        """Members whose ``key`` equals ``value`` (e.g. everyone opted out)."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM member_settings WHERE platform = ? AND workspace_id = ? AND key = ? AND value = ?",
            (platform, workspace_id, key, json.dumps(value)),
        )
        return {r[0] for r in rows}

    async def member_settings(self, platform: str, workspace_id: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Every member's values of ``keys`` in one workspace: ``{user_id: {key: value}}`` (members
        with none of the keys set are absent). One query, for jobs that visit every member."""
        if not keys:
            return {}
        rows = await self.db.fetchall(
            "SELECT user_id, key, value FROM member_settings WHERE platform = ? AND workspace_id = ? "
            f"AND key IN ({', '.join('?' * len(keys))})",
            (platform, workspace_id, *keys),
        )
        found: dict[str, dict[str, Any]] = {}
        for user_id, key, value in rows:
            found.setdefault(user_id, {})[key] = json.loads(value)
        return found

    async def is_opted_out(self, platform: str, workspace_id: str, user_id: str) -> bool:
        """True when the member opted out of indexing, profiling and leaderboards."""
        return bool(await self.get_member_setting(platform, workspace_id, user_id, OPTED_OUT_KEY, False))

    async def set_workspace_setting(
        self, platform: str, workspace_id: str, key: str, value: Any, tx: Executor | None = None
    ) -> None:
        """Store an admin setting for a workspace (JSON-encoded); inside ``tx`` when given."""
        await (tx or self.db).execute(
            "INSERT INTO workspace_settings (platform, workspace_id, key, value, updated_ts) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (platform, workspace_id, key) DO UPDATE SET value = excluded.value, updated_ts = excluded.updated_ts",
            (platform, workspace_id, key, json.dumps(value), time.time()),
        )

    async def delete_workspace_setting(
        self, platform: str, workspace_id: str, key: str, tx: Executor | None = None
    ) -> int:
        """Remove a workspace setting (back to its default); 1 when one was set."""
        return await (tx or self.db).execute(
            "DELETE FROM workspace_settings WHERE platform = ? AND workspace_id = ? AND key = ?",
            (platform, workspace_id, key),
        )

    async def get_workspace_setting(self, platform: str, workspace_id: str, key: str, default: Any = None) -> Any:
        """Read an admin setting, or ``default``."""
        row = await self.db.fetchone(
            "SELECT value FROM workspace_settings WHERE platform = ? AND workspace_id = ? AND key = ?",
            (platform, workspace_id, key),
        )
        return json.loads(row[0]) if row else default

    # -- feedback, audit, idempotency ----------------------------------------------------------
    async def record_feedback(
        self,
        platform: str,
        workspace_id: str,
        user_id: str,
        kind: str,
        target_id: str,
        value: str,
        ts: float | None = None,
    ) -> None:
        """Store a member's feedback on a target (answer 👍/👎...): their latest vote on it wins
        (one row per member and target, migration core-0008), so clicking again or changing one's
        mind counts once; a vote delivered late (a redelivery, another worker) never replaces a
        newer one."""
        await self.db.execute(
            "INSERT INTO feedback (feedback_id, platform, workspace_id, user_id, kind, target_id, value, ts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace_id, user_id, kind, target_id) "
            "DO UPDATE SET value = excluded.value, ts = excluded.ts WHERE excluded.ts >= feedback.ts",
            (uuid.uuid4().hex, platform, workspace_id, user_id, kind, target_id, value, ts or time.time()),
        )

    async def feedback(self, kind: str | None = None) -> list[tuple[str, str, str, str, str, str, float]]:
        """All feedback rows ``(platform, workspace, user, kind, target, value, ts)``."""
        sql = "SELECT platform, workspace_id, user_id, kind, target_id, value, ts FROM feedback"
        params: list[Any] = []
        if kind:
            sql += " WHERE kind = ?"
            params.append(kind)
        rows = await self.db.fetchall(sql + " ORDER BY ts", params)
        return [(r[0], r[1], r[2], r[3], r[4], r[5], float(r[6])) for r in rows]

    async def audit(
        self,
        platform: str,
        workspace_id: str,
        actor_id: str,
        action: str,
        *,
        allowed: bool = True,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append to the audit log. ``detail`` must never contain message text."""
        await self.db.execute(
            "INSERT INTO audit_log (audit_id, ts, platform, workspace_id, actor_id, action, allowed, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                uuid.uuid4().hex,
                time.time(),
                platform,
                workspace_id,
                actor_id,
                action,
                int(allowed),
                json.dumps(detail or {}),
            ),
        )

    async def audit_entries(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest audit entries first."""
        rows = await self.db.fetchall(
            "SELECT ts, platform, workspace_id, actor_id, action, allowed, detail FROM audit_log ORDER BY ts DESC LIMIT ?",
            (limit,),
        )
        return [
            {
                "ts": float(r[0]),
                "platform": r[1],
                "workspace_id": r[2],
                "actor_id": r[3],
                "action": r[4],
                "allowed": bool(r[5]),
                "detail": json.loads(r[6]),
            }
            for r in rows
        ]

    async def is_processed(self, consumer: str, event_id: str) -> bool:
        """Whether :meth:`mark_processed` claimed ``event_id`` for ``consumer`` already."""
        row = await self.db.fetchone(
            "SELECT 1 FROM processed_events WHERE consumer = ? AND event_id = ?", (consumer, event_id)
        )
        return row is not None

    async def mark_processed(self, consumer: str, event_id: str) -> bool:
        """Claim an event for a non-idempotent consumer; False if it was already processed.

        The mark is kept ``store.dedupe_retention_days`` (and a day), then purged
        (:meth:`purge_processed`, daily): a consumer must not act on an event older than that
        (:func:`bot.core_brain.dedupe_horizon`), whose mark may be gone. The mark's time is when it
        was made, never before the event it marks, so the marks of every event younger than the
        horizon are still there.
        """
        count = await self.db.execute(
            "INSERT INTO processed_events (consumer, event_id, ts) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (consumer, event_id, time.time()),
        )
        return count > 0

    async def purge_processed(self, before_ts: float, *, batch: int = PURGE_BATCH) -> int:
        """Delete the marks of :meth:`mark_processed` made before ``before_ts``; returns how many.

        ``batch`` rows per statement, each its own transaction, found by the ``ts`` index (migration
        core-0012): the first purge of a table that grew for years neither holds a write lock for
        long (SQLite has one for the whole database) nor runs into the statement timeout.
        """
        total = 0
        while True:
            count = await self.db.execute(
                "DELETE FROM processed_events WHERE (consumer, event_id) IN "
                "(SELECT consumer, event_id FROM processed_events WHERE ts < ? ORDER BY ts LIMIT ?)",
                (before_ts, batch),
            )
            total += count
            if count < batch:
                return total

    # -- reporting -----------------------------------------------------------------------------
    async def counts(self) -> dict[str, int]:
        """Row counts of the core tables (import summaries, tests)."""
        out = {}
        for table in ("workspaces", "channels", "users", "messages", "threads", "reactions"):
            row = await self.db.fetchone(f"SELECT COUNT(*) FROM {table}")
            out[table] = int(row[0]) if row else 0
        row = await self.db.fetchone("SELECT COUNT(*) FROM messages WHERE deleted = 1")
        out["deleted_messages"] = int(row[0]) if row else 0
        return out


async def open_store(
    url: str,
    *,
    migrate_schema: bool = True,
    command_timeout_s: float | None = DEFAULT_COMMAND_TIMEOUT_S,
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
) -> Store:
    """Open the store at ``url`` and apply migrations (timeouts: :func:`~bot.store.db.open_database`)."""
    store = Store(await open_database(url, command_timeout_s=command_timeout_s, busy_timeout_s=busy_timeout_s))
    if migrate_schema:
        try:
            await store.migrate()
        except BaseException:
            # A failed or cancelled migration (SIGTERM during start-up) must not leave the database
            # open: SQLite's connection thread would keep the process from exiting.
            await store.close()
            raise
    return store
