"""The recorder: writes inbound facts to the store, in batches, for every platform and importer.

It is a batch subscriber of the bus, so a live message and an imported one take the same path;
consecutive posts are written in one transaction (this is what makes imports fast). Posting in a
private channel or DM proves membership, so the author is added to that channel's access list.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.bus import EventBus
from bot.clock import to_epoch
from bot.events import (
    ChannelRef,
    ChannelSeen,
    Event,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    ReactionAdded,
    ReactionRemoved,
    ThreadCreated,
    UserRef,
    Visibility,
)
from bot.privacy.forgotten import ForgottenMembers
from bot.store import ChannelRow, MessageRow, ReactionRow, Store, UserRow
from bot.store.db import Executor

log = logging.getLogger(__name__)

RECORDED_TYPES: tuple[type[Event], ...] = (
    MessagePosted,
    MessageEdited,
    MessageDeleted,
    ReactionAdded,
    ReactionRemoved,
    MemberJoined,
    ThreadCreated,
    ChannelSeen,
)

_UPSERT_THREAD = """
INSERT INTO threads (platform, workspace_id, thread_id, channel_id, title, author_id, ts, is_forum_post)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (platform, workspace_id, thread_id) DO UPDATE SET
    title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE threads.title END,
    author_id = CASE WHEN excluded.author_id <> '' THEN excluded.author_id ELSE threads.author_id END,
    ts = CASE WHEN excluded.ts < threads.ts THEN excluded.ts ELSE threads.ts END,
    is_forum_post = CASE WHEN excluded.is_forum_post = 1 THEN 1 ELSE threads.is_forum_post END
"""


def _channel_row(ch: ChannelRef) -> ChannelRow:
    return ChannelRow(ch.platform.value, ch.workspace_id, ch.channel_id, ch.name, ch.visibility.value, ch.is_forum)


def _author_of(event: Event) -> UserRef | None:
    if isinstance(event, MessagePosted):
        return event.author
    if isinstance(event, (ReactionAdded, ReactionRemoved)):
        return event.user
    if isinstance(event, MessageEdited):
        return event.author
    return None


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

    def __init__(self, store: Store, *, max_batch: int = 1000, forgotten: ForgottenMembers | None = None) -> None:
        self._store = store
        self._max_batch = max_batch
        # Members who asked to be forgotten: their facts still in flight on the bus are dropped here,
        # so a message queued just before /forget-me cannot be stored after the erasure.
        self.forgotten = forgotten or ForgottenMembers()
        self.recorded = 0

    def attach(self, bus: EventBus) -> None:
        """Subscribe to the bus."""
        bus.subscribe_batch(RECORDED_TYPES, self.handle_batch, name="core.recorder", max_batch=self._max_batch)

    async def handle_batch(self, events: Sequence[Event]) -> None:
        """Persist a batch in one transaction, in order.

        Posts and reactions are collected and written with one statement each; a reaction never
        depends on a later post, but edits and deletes do, so they flush what was collected first.
        """
        posts: list[MessagePosted] = []
        reactions: list[ReactionRow] = []
        async with self._store.db.transaction() as tx:
            for event in events:
                author = _author_of(event)
                if author is not None and author in self.forgotten:
                    continue
                if isinstance(event, MessagePosted):
                    posts.append(event)
                elif isinstance(event, ReactionAdded):
                    reactions.append(_reaction_row(event))
                else:
                    await self._flush(tx, posts, reactions)
                    posts, reactions = [], []
                    await self._write_other(event, tx)
            await self._flush(tx, posts, reactions)
        self.recorded += sum(isinstance(e, MessagePosted) for e in events)

    async def _flush(self, tx: Executor, posts: list[MessagePosted], reactions: list[ReactionRow]) -> None:
        if posts:
            await self._write_posts(posts, tx)
        if reactions:
            await self._store.add_reactions(reactions, tx=tx)

    async def _write_posts(self, posts: list[MessagePosted], tx: Executor) -> None:
        # One pass with plain tuple keys: imports push every message through here, and the per-post
        # property calls (``.key``, enum ``.value``) of separate comprehensions were a third of its time.
        public = Visibility.PUBLIC
        workspaces: set[tuple[str, str]] = set()
        channels: dict[tuple[str, str, str], ChannelRow] = {}
        authors: dict[tuple[object, str, str], UserRef] = {}
        access: set[tuple[str, str, str, str, str]] = set()
        threads: dict[tuple[str, str, str], tuple[object, ...]] = {}
        last_channel: ChannelRef | None = None
        for p in posts:
            ch, author = p.channel, p.author
            platform, workspace_id = ch.platform.value, ch.workspace_id
            if ch is not last_channel:  # consecutive posts usually share the channel object
                last_channel = ch
                workspaces.add((platform, workspace_id))
                channels[(platform, workspace_id, ch.channel_id)] = _channel_row(ch)
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
                        to_epoch(p.ts),
                        int(ch.is_forum),
                    )
        await tx.executemany(
            "INSERT INTO workspaces (platform, workspace_id, name) VALUES (?, ?, '') ON CONFLICT DO NOTHING",
            list(workspaces),
        )
        await self._store.upsert_channels(channels.values(), tx=tx)
        await self._store.upsert_users(
            (UserRow(a.platform.value, a.workspace_id, a.user_id, a.name, a.is_bot) for a in authors.values()), tx=tx
        )
        if access:
            await tx.executemany(
                "INSERT INTO channel_access (platform, workspace_id, channel_id, principal_kind, principal_id) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                list(access),
            )
        if threads:
            await tx.executemany(_UPSERT_THREAD, list(threads.values()))
        await self._store.upsert_messages((message_row(p) for p in posts), tx=tx)

    async def _write_other(self, event: Event, tx: Executor) -> None:
        store = self._store
        if isinstance(event, MessageEdited):
            await store.edit_message(
                event.platform.value,
                event.channel.workspace_id,
                event.message_id,
                event.text,
                to_epoch(event.edited_at),
                tx=tx,
            )
        elif isinstance(event, MessageDeleted):
            await store.delete_message(
                event.platform.value, event.channel.workspace_id, event.message_id, event.channel.channel_id, tx=tx
            )
        elif isinstance(event, ReactionRemoved):
            await store.remove_reaction(
                event.platform.value,
                event.channel.workspace_id,
                event.message_id,
                event.user.user_id,
                event.emoji,
                tx=tx,
            )
        elif isinstance(event, MemberJoined):
            u = event.user
            await store.upsert_users([UserRow(u.platform.value, u.workspace_id, u.user_id, u.name, u.is_bot)], tx=tx)
            if event.channel is not None:
                await store.upsert_channels([_channel_row(event.channel)], tx=tx)
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
            await store.upsert_channels([_channel_row(event.parent)], tx=tx)
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
        elif isinstance(event, ChannelSeen):
            ch = event.channel
            await store.upsert_workspace(ch.platform.value, ch.workspace_id, tx=tx)
            await store.upsert_channels([_channel_row(ch)], tx=tx)
            if ch.visibility is not Visibility.PUBLIC or ch.allowed_role_ids or event.member_ids:
                await store.set_channel_access(
                    ch.platform.value,
                    ch.workspace_id,
                    ch.channel_id,
                    user_ids=set(ch.allowed_user_ids) | set(event.member_ids),
                    role_ids=ch.allowed_role_ids,
                    tx=tx,
                )
