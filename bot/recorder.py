"""The recorder: writes inbound facts to the store, in batches, for every platform and importer.

It is a batch subscriber of the bus, so a live message and an imported one take the same path;
consecutive posts are written in one transaction (this is what makes imports fast). Posting in a
private channel or DM proves membership, so the author is added to that channel's access list.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.bus import EventBus
from bot.clock import to_epoch
from bot.events import (
    ChannelDeleted,
    ChannelRef,
    ChannelSeen,
    CommandInvoked,
    Event,
    EventSource,
    MemberJoined,
    MemberLeft,
    MemberLeftChannel,
    MemberUpdated,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ThreadCreated,
    UserRef,
    Visibility,
    WorkspaceInstalled,
    WorkspaceRef,
    WorkspaceRemoved,
    WorkspacesConnected,
)
from bot.privacy.forgotten import ForgottenMembers, author_of
from bot.store import ChannelRow, MessageRow, ReactionRow, Store, UserRow
from bot.store.channel_access import AccessDenials
from bot.store.db import Executor
from bot.valid_text import storable_text

log = logging.getLogger(__name__)

RECORDED_TYPES: tuple[type[Event], ...] = (
    MessagePosted,
    MessageEdited,
    MessageDeleted,
    ReactionAdded,
    ReactionRemoved,
    MemberJoined,
    MemberLeft,
    MemberLeftChannel,
    MemberUpdated,
    ThreadCreated,
    ChannelSeen,
    ChannelDeleted,
    WorkspaceRemoved,
    WorkspaceInstalled,
    WorkspacesConnected,
    # Only for the member's time zone: Slack's users.info lookup of a slash command reveals it.
    CommandInvoked,
)

# The member setting that marks a member who left the workspace (set by MemberLeft, cleared by
# their next MemberJoined); brains that DM members skip them.
LEFT_KEY = "left"
# The workspace setting that marks a workspace the bot was removed from (kicked from a Discord
# server, Slack app uninstalled): when, in epoch seconds. Set by WorkspaceRemoved, cleared by the
# first live fact from the workspace after that time (a WorkspaceInstalled among them); scheduled
# jobs that post or DM skip the workspace meanwhile (``BrainContext.removed_workspaces``).
REMOVED_KEY = "removed_ts"
_LIVE = EventSource.LIVE


async def removed_workspaces(db: Executor) -> dict[tuple[str, str], float]:
    """Workspaces the bot was removed from and is not back in: ``(platform, workspace_id)`` -> when
    it was removed (epoch seconds). One query whatever the number of workspaces."""
    rows = await db.fetchall(
        "SELECT platform, workspace_id, value FROM workspace_settings WHERE key = ?", (REMOVED_KEY,)
    )
    return {(str(p), str(w)): float(json.loads(v)) for p, w, v in rows}


def _presence(event: Event) -> tuple[str, str, datetime] | None:
    """Where and when ``event`` shows the bot present in a workspace, else None.

    Only live facts count: imported and backfilled history says nothing about the bot being there
    now. A Discord server joined again (or seen on connect) arrives as ChannelSeen; a Slack
    reinstall as WorkspaceInstalled (and the next message, reaction or command shows it too).
    """
    if isinstance(event, WorkspaceInstalled):
        return event.workspace.platform.value, event.workspace.workspace_id, event.ts
    if isinstance(event, (MessagePosted, ReactionAdded)):
        return (event.channel.platform.value, event.channel.workspace_id, event.ts) if event.source is _LIVE else None
    if isinstance(event, ThreadCreated):
        return (event.parent.platform.value, event.parent.workspace_id, event.ts) if event.source is _LIVE else None
    # Not MessageEdited: it carries no source, and importers replay edits with the export's times.
    if isinstance(event, ChannelSeen):
        # An export's channel list is history; a backfill's came from a working API call.
        return (
            None
            if event.source is EventSource.IMPORT
            else (event.channel.platform.value, event.channel.workspace_id, event.ts)
        )
    if isinstance(event, CommandInvoked):
        return event.channel.platform.value, event.channel.workspace_id, event.ts
    return None


_UPSERT_THREAD = """
INSERT INTO threads (platform, workspace_id, thread_id, channel_id, title, author_id, ts, is_forum_post)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (platform, workspace_id, thread_id) DO UPDATE SET
    title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE threads.title END,
    author_id = CASE WHEN excluded.author_id <> '' THEN excluded.author_id ELSE threads.author_id END,
    ts = CASE WHEN excluded.ts < threads.ts THEN excluded.ts ELSE threads.ts END,
    is_forum_post = CASE WHEN excluded.is_forum_post = 1 THEN 1 ELSE threads.is_forum_post END
"""


def channel_row(ch: ChannelRef) -> ChannelRow:
    """The store row of a channel ref."""
    return ChannelRow(
        ch.platform.value,
        ch.workspace_id,
        ch.channel_id,
        ch.name,
        ch.visibility.value,
        ch.is_forum,
        ch.parent_id,
        ch.shared_externally,
    )


def channel_ref(row: ChannelRow) -> ChannelRef:
    """The channel ref of a store row (what the store holds of it; no access lists)."""
    return ChannelRef(
        Platform(row.platform),
        row.workspace_id,
        row.channel_id,
        row.name,
        Visibility(row.visibility),
        row.is_forum,
        parent_id=row.parent_id,
        shared_externally=row.shared_externally,
    )


def _denials(ch: ChannelRef) -> AccessDenials:
    """Whom ``ch``'s overwrites keep out (stored beside its access list)."""
    return AccessDenials(ch.denied_user_ids, ch.denied_role_ids, ch.override_role_ids)


async def _upsert_channel_refs(store: Store, refs: Iterable[ChannelRef], tx: Executor) -> None:
    """Store channels; a ref whose visibility the adapter could not tell keeps the stored one."""
    refs = list(refs)
    known = [channel_row(ch) for ch in refs if ch.visibility_known]
    guessed = [channel_row(ch) for ch in refs if not ch.visibility_known]
    await store.upsert_channels(known, tx=tx)
    await store.upsert_channels(guessed, tx=tx, keep_visibility=True)


def _reaction_row(event: ReactionAdded) -> ReactionRow:
    return ReactionRow(
        event.platform.value,
        event.channel.workspace_id,
        event.message_id,
        event.user.user_id,
        event.emoji,
        to_epoch(event.ts),
    )


def message_row(event: MessagePosted) -> MessageRow:
    """The store row for a posted message."""
    return MessageRow(
        platform=event.channel.platform.value,
        workspace_id=event.channel.workspace_id,
        message_id=event.message_id,
        channel_id=event.channel.channel_id,
        author_id=event.author.user_id,
        ts=to_epoch(event.ts),
        text=event.text,
        thread_id=event.thread_id,
        reply_to=event.reply_to,
        is_bot=event.author.is_bot,
        subtype=event.subtype,
        permalink=event.permalink,
    )


class Recorder:
    """Subscribes to inbound facts and persists them."""

    def __init__(self, store: Store, *, max_batch: int = 20_000, forgotten: ForgottenMembers | None = None) -> None:
        self._store = store
        # Live traffic arrives a few events at a time; a burst (an import, a backfill) fills batches.
        # Each commit rewrites every index page its rows touch, and the message indexes dominate the
        # write cost: SQLite alone writes 100,000 messages in 3.6 s as 1,000-row transactions, 2.4 s
        # as 5,000-row ones and 2.1 s as 20,000-row ones (2026-12-03); in an interleaved A/B the whole import
        # gained 24% (first import) and 17% (second).
        self._max_batch = max_batch
        # Members who asked to be forgotten: their facts still in flight on the bus are dropped here,
        # so a message queued just before /forget-me cannot be stored after the erasure.
        self.forgotten = forgotten or ForgottenMembers()
        self.recorded = 0

    def attach(self, bus: EventBus) -> None:
        """Subscribe to the bus."""
        bus.subscribe_batch(RECORDED_TYPES, self.handle_batch, name="core.recorder", max_batch=self._max_batch)

    async def handle_batch(self, events: Sequence[Event]) -> None:
        """Persist a batch in one transaction.

        Posts, reactions, edits and deletes are collected and written with a few statement batches,
        in that order: every post, then every reaction change, edit and delete. That leaves the same
        rows as applying them one by one (an edit or delete of an earlier post finds it; the last
        change to one reaction wins); the rare event that must land *before* a collected one (a post
        after its own edit or delete, an edit after a delete) flushes what was collected first, and
        so do membership and thread facts, which are written in place. A member who only reacts,
        edits or opens a thread gets a ``users`` row too (:func:`_know_members`).
        """
        segment = _Segment()
        actors: dict[tuple[str, str, str], UserRef] = {}
        # What a worker writing at the same moment could have missed (PostgreSQL, below).
        settle = _Settle()
        async with self._store.db.transaction() as tx:
            for event in events:
                author = author_of(event)
                if author is not None:
                    if author in self.forgotten:
                        continue
                    # Discord only: its privacy gate reads a member's opt-outs until the store knows
                    # them in the server. Only a ref that carries the member's profile (a name): a
                    # reaction removal's has none, and says "not a bot" for a bot too, which would
                    # then be sent digest DMs; a Slack reaction cannot tell a bot either.
                    if (
                        author.platform is Platform.DISCORD
                        and author.user_id
                        and author.name
                        and not isinstance(event, _WRITES_USER_ROW)
                    ):
                        actors.setdefault((author.platform.value, author.workspace_id, author.user_id), author)
                if segment.must_follow(event):
                    await self._flush(tx, segment, settle)
                    segment = _Segment()
                if not segment.add(event):
                    await self._flush(tx, segment, settle)
                    segment = _Segment()
                    await self._write_other(event, tx)
            await self._flush(tx, segment, settle)
            await _know_members(actors.values(), tx)
            await self._note_presence(events, tx)
        if self._store.dialect == "postgresql":
            await self._settle(settle)
        self.recorded += sum(isinstance(e, MessagePosted) for e in events)

    async def _settle(self, settle: _Settle) -> None:
        """Look again, after the commit, at what another worker's transaction may have hidden.

        Under PostgreSQL's READ COMMITTED a post and its edit (or a reaction's add and removal)
        written by two workers at once each miss the other's uncommitted row: the edit waits in
        ``pending_edits`` for a post already written, the add is stored past its removal. Each side
        looks again once committed; of two looks made after both commits, the later one sees both.
        SQLite writes one transaction at a time, so the looks inside it suffice there.
        """
        if settle.messages:
            await self._store.apply_pending_edits(settle.messages)
        if settle.reactions:
            await self._store.settle_reactions(settle.reactions)

    async def _note_presence(self, events: Sequence[Event], tx: Executor) -> None:
        """Clear the removal of a workspace the batch shows the bot back in (a live fact newer than
        the removal: one posted before the kick but delivered after it does not count)."""
        latest: dict[tuple[str, str], float] = {}
        for event in events:
            seen = _presence(event)
            if seen is not None:
                key, ts = (seen[0], seen[1]), to_epoch(seen[2])
                if ts > latest.get(key, 0.0):
                    latest[key] = ts
        if not latest:
            return
        for (platform, workspace_id), removed_ts in (await removed_workspaces(tx)).items():
            if latest.get((platform, workspace_id), 0.0) > removed_ts:
                await self._store.delete_workspace_setting(platform, workspace_id, REMOVED_KEY, tx=tx)
                log.info("%s workspace %s: the bot is back; scheduled jobs post there again", platform, workspace_id)

    async def _mark_removed(self, w: WorkspaceRef, ts: datetime, reason: str, tx: Executor) -> None:
        """Note that the bot was removed from ``w`` at ``ts``: scheduled jobs skip it until it is back."""
        await self._store.upsert_workspace(w.platform.value, w.workspace_id, w.name, tx=tx)
        await self._store.set_workspace_setting(w.platform.value, w.workspace_id, REMOVED_KEY, to_epoch(ts), tx=tx)
        log.warning(
            "%s workspace %s%s: the bot was removed (%s). Digests, leaderboards and trend alerts stop "
            "there until it is back. Its stored history is kept until the retention policy purges it "
            "(retention_days; unset keeps it), and members can still erase theirs (/forget-me, "
            "`guildhall privacy forget`).",
            w.platform.value,
            w.workspace_id,
            f" ({w.name})" if w.name else "",
            reason or "no reason given",
        )

    async def _note_connected(self, event: WorkspacesConnected, tx: Executor) -> None:
        """Mark the stored workspaces of the connected shards that the connection does not list.

        Only workspaces the store knows are candidates (one query, whatever the number of
        workspaces), and only those the connection :meth:`~WorkspacesConnected.covers`: another
        process's shards and the DM pseudo-workspace are not judged. One already marked keeps its
        first removal time and is not logged again, so the ``on_ready`` of every reconnect that
        could not resume changes nothing.
        """
        platform = event.platform.value
        listed = set(event.workspace_ids)
        # Nothing says which: a kick while the bot was offline, the server deleted, or history
        # imported from a server the bot never joined (a mark there stops posts that would fail too).
        reason = "not listed when the bot connected: removed while it was offline, deleted, or never joined"
        removed = await removed_workspaces(tx)
        rows = await tx.fetchall("SELECT workspace_id, name FROM workspaces WHERE platform = ?", (platform,))
        for workspace_id, name in rows:
            wid = str(workspace_id)
            if wid in listed or (platform, wid) in removed or not event.covers(wid):
                continue
            await self._mark_removed(WorkspaceRef(event.platform, wid, str(name or "")), event.ts, reason, tx)

    async def _flush(self, tx: Executor, segment: _Segment, settle: _Settle) -> None:
        store = self._store
        if segment.posts:
            await self._write_posts(segment.posts, tx)
            settle.messages.update(
                (p.channel.platform.value, p.channel.workspace_id, p.message_id) for p in segment.posts
            )
        if segment.reactions:
            # Removals first: "remove, add again" in one segment must replace a stored reaction. Each
            # removal notes its time, so an add older than it (reordered) is not stored.
            await store.remove_reactions([(*key, ts) for key, ts in segment.removed.items()], tx=tx)
            await store.add_reactions([row for row in segment.reactions.values() if row is not None], tx=tx)
            settle.reactions.update(segment.reactions)
        await store.edit_messages(segment.edits, tx=tx)
        settle.messages.update(edit[:3] for edit in segment.edits)
        await store.delete_messages(segment.deletes, tx=tx)

    async def _write_posts(self, posts: list[MessagePosted], tx: Executor) -> None:
        # One pass with plain tuple keys: imports push every message through here, and the per-post
        # property calls (``.key``, enum ``.value``) of separate comprehensions were a third of its time.
        public = Visibility.PUBLIC
        workspaces: set[tuple[str, str]] = set()
        channels: dict[tuple[str, str, str], ChannelRef] = {}
        authors: dict[tuple[object, str, str], UserRef] = {}
        access: set[tuple[str, str, str, str, str]] = set()
        threads: dict[tuple[str, str, str], tuple[object, ...]] = {}
        values: list[tuple[object, ...]] = []
        last_channel: ChannelRef | None = None
        platform = workspace_id = ""
        for p in posts:
            ch, author = p.channel, p.author
            if ch is not last_channel:  # consecutive posts usually share the channel object
                last_channel = ch
                platform, workspace_id = ch.platform.value, ch.workspace_id
                workspaces.add((platform, workspace_id))
                key = (platform, workspace_id, ch.channel_id)
                if ch.visibility_known or key not in channels:  # a cache miss never overrides what this batch knows
                    channels[key] = ch
            ts = to_epoch(p.ts)
            # MESSAGE_COLUMNS order.
            values.append(
                (
                    platform,
                    workspace_id,
                    p.message_id,
                    ch.channel_id,
                    p.thread_id,
                    p.reply_to,
                    author.user_id,
                    ts,
                    None,
                    0,
                    p.text,
                    int(author.is_bot),
                    p.subtype,
                    p.permalink,
                )
            )
            authors[(author.platform, author.workspace_id, author.user_id)] = author  # the latest name wins
            if ch.visibility is not public:
                access.add((platform, workspace_id, ch.channel_id, "user", author.user_id))
            if p.thread_id:
                is_root = p.thread_id == p.message_id
                key = (platform, workspace_id, p.thread_id)
                if is_root or key not in threads:
                    threads[key] = (
                        *key,
                        ch.channel_id,
                        "",
                        author.user_id if is_root else "",
                        ts,
                        int(ch.is_forum),
                    )
        await tx.executemany(
            "INSERT INTO workspaces (platform, workspace_id, name) VALUES (?, ?, '') ON CONFLICT DO NOTHING",
            list(workspaces),
        )
        await _upsert_channel_refs(self._store, channels.values(), tx)
        await self._store.upsert_users(
            (
                UserRow(a.platform.value, a.workspace_id, a.user_id, a.name, a.is_bot, a.tz or None, a.external)
                for a in authors.values()
            ),
            tx=tx,
        )
        if access:
            await tx.executemany(
                "INSERT INTO channel_access (platform, workspace_id, channel_id, principal_kind, principal_id) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                list(access),
            )
        if threads:
            await tx.executemany(_UPSERT_THREAD, list(threads.values()))
        await self._store.upsert_message_values(values, tx=tx)

    async def _write_other(self, event: Event, tx: Executor) -> None:
        store = self._store
        if isinstance(event, MemberUpdated):
            u = event.user  # a forgotten member's updates never get here (author_of drops them)
            await store.upsert_users(
                [UserRow(u.platform.value, u.workspace_id, u.user_id, u.name, u.is_bot, u.tz or None, guest=u.guest)],
                tx=tx,
            )
            # An active profile: a member Slack reactivated is back (no team_join comes for them).
            await store.delete_member_setting(u.platform.value, u.workspace_id, u.user_id, LEFT_KEY, tx=tx)
        elif isinstance(event, MemberLeft):
            u = event.user
            await store.set_member_setting(u.platform.value, u.workspace_id, u.user_id, LEFT_KEY, True, tx=tx)
        elif isinstance(event, MemberLeftChannel):  # out of one channel: it is no longer theirs to read
            u = event.user
            await store.remove_channel_reader(
                u.platform.value, u.workspace_id, event.channel.channel_id, u.user_id, tx=tx
            )
        elif isinstance(event, MemberJoined):
            u = event.user
            if event.channel is None and event.source is EventSource.LIVE:
                # Back in the community: digests and DMs resume. Not for an export's join: that is
                # history (every member who ever joined), and would bring back those who left since.
                await store.delete_member_setting(u.platform.value, u.workspace_id, u.user_id, LEFT_KEY, tx=tx)
            name = "" if u in self.forgotten else u.name  # a forgotten member's name is not stored again
            # None (not "") when unknown: the upsert then keeps a zone learned earlier.
            tz = None if u in self.forgotten else u.tz or None
            row = UserRow(u.platform.value, u.workspace_id, u.user_id, name, u.is_bot, tz, u.external, u.guest)
            await store.upsert_users([row], tx=tx)
            if event.channel is not None:
                await _upsert_channel_refs(store, [event.channel], tx)
                if event.channel.visibility is not Visibility.PUBLIC:
                    await store.set_channel_access(
                        u.platform.value,
                        u.workspace_id,
                        event.channel.channel_id,
                        user_ids=[u.user_id],
                        replace=False,
                        tx=tx,
                    )
        elif isinstance(event, ThreadCreated):
            await _upsert_channel_refs(store, [event.parent], tx)
            if event.parent.visibility is not Visibility.PUBLIC:
                own_channel = event.parent.channel_id == event.thread_id  # a Discord private thread
                # Added to what is stored (replace=False). A parent channel's readers and roles are
                # its ChannelSeen's to say: a stale ref (a backfill racing one, a thread re-sent by
                # a backfill) must not re-add a reader or role taken away, nor make a thread's
                # starter a reader for good. A private thread, a channel of its own, lists its
                # starter and known members. Denials are always the safe side; overrides only grant.
                await store.set_channel_access(
                    event.platform.value,
                    event.parent.workspace_id,
                    event.parent.channel_id,
                    user_ids={*event.parent.allowed_user_ids, event.author.user_id} - {""} if own_channel else (),
                    role_ids=event.parent.allowed_role_ids if own_channel else (),
                    replace=False,
                    tx=tx,
                    # A private thread's own overrides (its parent's, as Discord shows the thread only
                    # to the parent's readers) go along; a parent channel's come from its ChannelSeen.
                    denials=_denials(event.parent)
                    if own_channel
                    else dataclasses.replace(_denials(event.parent), override_role_ids=()),
                )
            await store.upsert_thread(
                event.platform.value,
                event.parent.workspace_id,
                event.thread_id,
                event.parent.channel_id,
                title=event.title,
                author_id=event.author.user_id,
                ts=to_epoch(event.ts),
                is_forum_post=event.is_forum_post,
                tx=tx,
            )
        elif isinstance(event, CommandInvoked):
            u = event.user
            forgotten = u in self.forgotten
            if (u.tz and not forgotten) or u.guest is not None or u.external:
                # The empty name keeps the stored one (the payload's is a handle, not a display name);
                # a zone or flag of None keeps the stored one too. Guest and external are access
                # facts, not personal data: kept for a forgotten member too (whose zone is not).
                tz = None if forgotten else u.tz or None
                # A command's "not external" is not trusted over a stored "external": Slack may put
                # a Slack Connect partner's own team in the payload it compares with.
                external = True if u.external else None
                row = UserRow(u.platform.value, u.workspace_id, u.user_id, "", u.is_bot, tz, external, u.guest)
                await store.upsert_users([row], tx=tx)
        elif isinstance(event, ChannelDeleted):
            ch = event.channel
            erased = await store.erase_channel(ch.platform.value, ch.workspace_id, ch.channel_id, tx=tx)
            log.info("channel %s deleted on %s: %d stored messages erased", ch.channel_id, ch.platform.value, erased)
        elif isinstance(event, WorkspaceRemoved):
            await self._mark_removed(event.workspace, event.ts, event.reason, tx)
        elif isinstance(event, WorkspacesConnected):
            await self._note_connected(event, tx)
        elif isinstance(event, WorkspaceInstalled):
            # The removal it ends is cleared with the batch's other presence (_note_presence).
            w = event.workspace
            await store.upsert_workspace(w.platform.value, w.workspace_id, w.name, tx=tx)
            log.info(
                "%s workspace %s%s: the bot is in it (%s)",
                w.platform.value,
                w.workspace_id,
                f" ({w.name})" if w.name else "",
                event.reason or "no reason given",
            )
        elif isinstance(event, ChannelSeen):
            ch = event.channel
            await store.upsert_workspace(ch.platform.value, ch.workspace_id, event.workspace_name, tx=tx)
            await _upsert_channel_refs(store, [ch], tx)
            lists_access = ch.visibility is not Visibility.PUBLIC or bool(ch.allowed_role_ids or event.member_ids)
            if lists_access and event.source is EventSource.IMPORT:
                # An export's member list is as old as the export: an access list already stored
                # (by the live adapter, or an export imported earlier) is kept, as replacing it would let
                # members who left since read the channel again and lock out those who joined since.
                lists_access = not await store.has_channel_access(
                    ch.platform.value, ch.workspace_id, ch.channel_id, tx=tx
                )
            if lists_access:
                await store.set_channel_access(
                    ch.platform.value,
                    ch.workspace_id,
                    ch.channel_id,
                    user_ids=set(ch.allowed_user_ids) | set(event.member_ids),
                    role_ids=ch.allowed_role_ids,
                    tx=tx,
                    denials=_denials(ch),
                )


# Facts whose member the recorder upserts a users row for anyway (with a name and profile).
_WRITES_USER_ROW = (MessagePosted, MemberUpdated)
# A row only where there is none: a reaction's or an edit's ref may lack the name, and says
# ``is_bot = false`` for a bot whose profile it does not carry (Slack, a Discord removal).
_INSERT_MISSING_USER = (
    "INSERT INTO users (platform, workspace_id, user_id, name, is_bot) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


async def _know_members(members: Iterable[UserRef], tx: Executor) -> None:
    """Give each Discord member who acted without posting (a reaction, its removal, an edit, a thread) a
    ``users`` row in that workspace, as a poster has. The store then knows them there: the privacy
    gate stops looking up their opt-out at each of their events (:class:`~bot.privacy.optout.DiscordOptOuts`),
    as ``/optout`` and ``/optin`` reach the workspace through the row, and ``/forget-me`` erases
    its name like any member's."""
    rows = [(m.platform.value, m.workspace_id, m.user_id, storable_text(m.name), int(m.is_bot)) for m in members]
    if rows:
        await tx.executemany(_INSERT_MISSING_USER, rows)


_ReactionKey = tuple[str, str, str, str, str]


class _Settle:
    """Messages (posts and edits) and reactions a batch wrote: looked at again after its commit."""

    __slots__ = ("messages", "reactions")

    def __init__(self) -> None:
        self.messages: set[tuple[str, str, str]] = set()
        self.reactions: set[_ReactionKey] = set()


class _Segment:
    """Posts, reaction changes, edits and deletes collected between two structural facts."""

    __slots__ = ("deleted", "deletes", "edited", "edits", "posts", "reactions", "removed")

    def __init__(self) -> None:
        self.posts: list[MessagePosted] = []
        # The last change per (message, member, emoji); None means removed.
        self.reactions: dict[_ReactionKey, ReactionRow | None] = {}
        # Reactions removed at some point in the segment, with the latest removal's time.
        self.removed: dict[_ReactionKey, float] = {}
        self.edits: list[tuple[str, str, str, str, float, str, str]] = []
        self.deletes: list[tuple[str, str, str, str]] = []
        self.edited: set[tuple[str, str, str]] = set()
        self.deleted: set[tuple[str, str, str]] = set()

    def must_follow(self, event: Event) -> bool:
        """Whether ``event`` would be written before something collected that it came after."""
        if not self.edited and not self.deleted:  # the usual case: nothing collected can be overtaken
            return False
        if isinstance(event, MessagePosted):
            ch = event.channel
            key = (ch.platform.value, ch.workspace_id, event.message_id)
            return key in self.edited or key in self.deleted
        if isinstance(event, MessageEdited):
            ch = event.channel
            return (ch.platform.value, ch.workspace_id, event.message_id) in self.deleted
        return False

    def add(self, event: Event) -> bool:
        """Collect ``event``; False when it is a structural fact to write in place."""
        if isinstance(event, MessagePosted):
            self.posts.append(event)
        elif isinstance(event, (ReactionAdded, ReactionRemoved)):
            ch = event.channel
            key = (ch.platform.value, ch.workspace_id, event.message_id, event.user.user_id, event.emoji)
            if isinstance(event, ReactionRemoved):
                ts = to_epoch(event.ts)
                row = self.reactions.get(key)
                if row is None or row.ts <= ts:  # an add newer than the removal (reordered) stands
                    self.reactions[key] = None
                self.removed[key] = max(ts, self.removed.get(key, float("-inf")))
            elif self.reactions.get(key) is None:  # a repeated add keeps the first one's time
                self.reactions[key] = _reaction_row(event)
        elif isinstance(event, MessageEdited):
            ch = event.channel
            author = event.author.user_id if event.author is not None else ""
            self.edits.append(
                (
                    ch.platform.value,
                    ch.workspace_id,
                    event.message_id,
                    event.text,
                    to_epoch(event.edited_at),
                    ch.channel_id,
                    author,
                )
            )
            self.edited.add((ch.platform.value, ch.workspace_id, event.message_id))
        elif isinstance(event, MessageDeleted):
            ch = event.channel
            self.deletes.append((ch.platform.value, ch.workspace_id, event.message_id, ch.channel_id))
            self.deleted.add((ch.platform.value, ch.workspace_id, event.message_id))
        else:
            return False
        return True
