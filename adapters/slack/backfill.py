"""Backfill: read channel history through the Web API and publish it as live traffic would.

``conversations.list`` -> ``conversations.history`` -> ``conversations.replies``, each followed
through ``response_metadata.next_cursor``. Every message goes through the same
:func:`~adapters.slack.normalize.normalize_message` as live events (with ``source=BACKFILL``), so
its ``event_id`` equals the live one: re-running a backfill, or backfilling a channel the bot
already watched, stores nothing twice. Reactions found on messages become
:class:`~bot.events.ReactionAdded` (Slack's history lists who reacted, not when; the message time
stands in).

Pages arrive newest first and are published in that order, so memory stays flat on huge channels;
the store's upserts do not depend on order. 429s are waited out by the client's retry handler.

With ``oldest`` (``--since-days``), history lists only roots posted since then, yet members keep
replying in older threads: roots from up to :data:`THREAD_LOOKBACK_DAYS` before ``oldest`` whose
``latest_reply`` is newer are read too, and their new replies published.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.conversations import channel_info, members_if_private
from adapters.slack.errors import log_api_error
from adapters.slack.normalize import (
    NormalizeContext,
    SlackIdentity,
    base_emoji,
    channel_from_conversation,
    normalize_message,
    parse_ts,
)
from adapters.slack.payloads import SlackMessage
from bot.events import (
    ChannelRef,
    ChannelSeen,
    EventSource,
    InboundEvent,
    Platform,
    ReactionAdded,
    UserRef,
    Visibility,
)

log = logging.getLogger(__name__)

Publish = Callable[[InboundEvent], Awaitable[object]]


# How far before ``oldest`` a backfill looks for threads that still got replies since then (a
# bounded read: most threads go quiet within days; a whole channel's history is what a full
# backfill is for).
THREAD_LOOKBACK_DAYS = 30


@dataclass(slots=True)
class ChannelProgress:
    """Counts for one channel, reported after every page."""

    channel_id: str
    name: str = ""
    messages: int = 0
    replies: int = 0
    reactions: int = 0
    skipped: int = 0
    error: str = ""


@dataclass(slots=True)
class BackfillReport:
    """What a backfill did, per channel."""

    channels: list[ChannelProgress] = field(default_factory=list)

    @property
    def messages(self) -> int:
        """Messages and thread replies published."""
        return sum(c.messages + c.replies for c in self.channels)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (``--json``)."""
        return {
            "channels": len(self.channels),
            "messages": self.messages,
            "failed_channels": [c.channel_id for c in self.channels if c.error],
            "per_channel": [
                {
                    "channel": c.channel_id,
                    "name": c.name,
                    "messages": c.messages,
                    "replies": c.replies,
                    "reactions": c.reactions,
                    "skipped": c.skipped,
                    "error": c.error,
                }
                for c in self.channels
            ],
        }


class SlackBackfill:
    """Reads history for one workspace and publishes events.

    Args:
        client: a Web API client with the workspace's bot token.
        publish: where events go (``bus.publish``).
        identity: the bot in this workspace (its own messages are skipped).
        oldest: only messages at or after this time.
        page_size: items per API page (Slack allows up to 200 for history, 1000 for lists).
        progress: called with the channel's counts after every page.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        publish: Publish,
        identity: SlackIdentity,
        *,
        oldest: datetime | None = None,
        page_size: int = 200,
        progress: Callable[[ChannelProgress], None] | None = None,
    ) -> None:
        self._client = client
        self._publish = publish
        self._identity = identity
        self._oldest = oldest
        self._page_size = page_size
        self._progress = progress or (lambda _p: None)

    async def _pages(self, method: str, key: str, **params: Any) -> AsyncIterator[list[dict[str, Any]]]:
        fn = getattr(self._client, method.replace(".", "_"))
        cursor = ""
        asked: set[str] = set()
        while True:
            args = {**params, "limit": self._page_size}
            if cursor:
                args["cursor"] = cursor
            resp = await fn(**args)
            items = resp.get(key) or []
            yield [i for i in items if isinstance(i, dict)]
            asked.add(cursor)
            cursor = str((resp.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return
            if cursor in asked:
                # A cursor already followed leads to pages already read: following it again would
                # ask for the same pages forever (each call also spends the rate limit).
                log.warning("slack %s repeated cursor %r; stopping there", method, cursor)
                return

    async def list_channels(self, *, include_private: bool = True, include_dms: bool = False) -> list[ChannelRef]:
        """Every non-archived conversation the bot can list."""
        types = ["public_channel"]
        if include_private:
            types.append("private_channel")
        if include_dms:
            types += ["im", "mpim"]
        found = []
        async for page in self._pages("conversations.list", "channels", types=",".join(types), exclude_archived=True):
            found += [channel_from_conversation(conv, self._identity.team_id) for conv in page if conv.get("id")]
        return found

    async def channel_ref(self, channel_id: str) -> ChannelRef:
        """A channel's name and visibility (``conversations.info``); private if unknown.

        The id's prefix is no clue (a ``D`` one may be a DM between members): unknown stays
        unknown, and the store keeps the visibility it already has.
        """
        ref = await channel_info(self._client, self._identity.team_id, channel_id)
        if ref is not None:
            return ref
        return ChannelRef(
            Platform.SLACK, self._identity.team_id, channel_id, "", Visibility.PRIVATE, visibility_known=False
        )

    async def run(self, channels: Sequence[str | ChannelRef]) -> BackfillReport:
        """Backfill the given channels (ids or refs); one failing channel does not stop the rest."""
        report = BackfillReport()
        for item in channels:
            ref = item if isinstance(item, ChannelRef) else await self.channel_ref(item)
            report.channels.append(await self.backfill_channel(ref))
        return report

    async def backfill_channel(self, channel: ChannelRef) -> ChannelProgress:
        """Publish one channel's history and its threads."""
        progress = ChannelProgress(channel.channel_id, channel.name)
        members = await members_if_private(self._client, channel)
        if members is not None:  # see conversations.py: never publish a private channel without its members
            await self._publish(
                ChannelSeen(
                    channel=channel,
                    ts=datetime.now(UTC),
                    member_ids=members,
                    workspace_name=self._identity.team_name,
                )
            )
        ctx = NormalizeContext(self._identity, {channel.channel_id: channel}, EventSource.BACKFILL)
        params: dict[str, Any] = {"channel": channel.channel_id}
        if self._oldest is not None:
            params["oldest"] = f"{self._oldest.timestamp():.6f}"
        try:
            async for page in self._pages("conversations.history", "messages", **params):
                for raw in page:
                    msg = cast(SlackMessage, raw)
                    await self._message(msg, channel, ctx, progress, reply=False)
                    # Replies are fetched even when the root itself is not imported: a deleted
                    # root (tombstone) or a bot's post can head a thread of member replies.
                    if msg.get("reply_count") and msg.get("thread_ts") == msg.get("ts"):
                        await self._thread(msg, channel, ctx, progress)
                self._progress(progress)
            if self._oldest is not None:
                await self._older_threads(channel, ctx, progress, self._oldest)
        except SlackApiError as exc:
            progress.error = log_api_error("conversations.history", exc, channel=channel.channel_id)
            self._progress(progress)
        return progress

    async def _older_threads(
        self, channel: ChannelRef, ctx: NormalizeContext, progress: ChannelProgress, since: datetime
    ) -> None:
        """Replies posted since ``since`` in threads whose root is older (up to the lookback)."""
        cutoff = since.timestamp()
        window = {"oldest": f"{cutoff - THREAD_LOOKBACK_DAYS * 86400:.6f}", "latest": f"{cutoff:.6f}"}
        async for page in self._pages("conversations.history", "messages", channel=channel.channel_id, **window):
            for raw in page:
                root = cast(SlackMessage, raw)
                latest = _ts_float(root.get("latest_reply"))
                if root.get("reply_count") and root.get("thread_ts") == root.get("ts") and latest >= cutoff:
                    await self._thread(root, channel, ctx, progress, since=cutoff)
            self._progress(progress)

    async def _thread(
        self,
        root: SlackMessage,
        channel: ChannelRef,
        ctx: NormalizeContext,
        progress: ChannelProgress,
        *,
        since: float | None = None,
    ) -> None:
        """Publish a thread's replies (only those at or after ``since`` when given)."""
        params: dict[str, Any] = {"channel": channel.channel_id, "ts": root["ts"]}
        if since is not None:
            params["oldest"] = f"{since:.6f}"
        try:
            async for page in self._pages("conversations.replies", "messages", **params):
                for raw in page:
                    msg = cast(SlackMessage, raw)
                    if msg.get("ts") == root.get("ts"):
                        continue  # every page of replies repeats the root first
                    if since is not None and _ts_float(msg.get("ts")) < since:
                        continue
                    await self._message(msg, channel, ctx, progress, reply=True)
        except SlackApiError as exc:
            log_api_error("conversations.replies", exc, channel=channel.channel_id)

    async def _message(
        self, msg: SlackMessage, channel: ChannelRef, ctx: NormalizeContext, progress: ChannelProgress, *, reply: bool
    ) -> bool:
        posted = normalize_message(msg, channel.channel_id, None, ctx)
        if posted is None:
            progress.skipped += 1
            return False
        await self._publish(posted)
        if reply:
            progress.replies += 1
        else:
            progress.messages += 1
        for reaction in msg.get("reactions") or []:
            emoji = base_emoji(str(reaction.get("name") or ""))
            for user_id in reaction.get("users") or []:
                if not emoji or user_id == self._identity.bot_user_id:
                    continue
                await self._publish(
                    ReactionAdded(
                        channel=posted.channel,
                        message_id=posted.message_id,
                        user=UserRef(Platform.SLACK, channel.workspace_id, str(user_id)),
                        emoji=emoji,
                        ts=parse_ts(msg.get("ts")) or posted.ts,
                        message_author_id=posted.author.user_id,
                        source=EventSource.BACKFILL,
                    )
                )
                progress.reactions += 1
        return True


def _ts_float(value: object) -> float:
    """A Slack ts as a number; 0 for a missing or malformed one (never newer than anything)."""
    try:
        return float(str(value)) if value else 0.0
    except ValueError:
        return 0.0
