"""Backfill: read a guild's channel and thread history through the REST API.

The events published are the same as live traffic (``ChannelSeen``, ``ThreadCreated``,
``MessagePosted``) with ``source=BACKFILL``, so the recorder stores them and re-running a backfill is
idempotent (stable event ids). Only REST is used; no gateway connection is needed. discord.py's
``HTTPClient`` paces history requests by Discord's rate-limit headers.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord

from adapters.discord import normalize
from bot.events import Event, EventSource

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[Any]]
# The channels whose history is read (normalize.TEXT_BEARING): a voice or stage channel's text chat
# too, as live traffic records it.
Readable = discord.TextChannel | discord.ForumChannel | discord.VoiceChannel | discord.StageChannel
Progress = Callable[["ChannelProgress"], None]


@dataclass
class ChannelProgress:
    """How far one channel or thread got."""

    channel_id: str
    name: str
    messages: int = 0
    skipped: str = ""


@dataclass
class BackfillReport:
    """What a backfill did, per channel and thread."""

    guild_id: str
    channels: list[ChannelProgress] = field(default_factory=list)

    @property
    def messages(self) -> int:
        """Messages published in total."""
        return sum(c.messages for c in self.channels)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for ``--json``."""
        return {
            "guild_id": self.guild_id,
            "messages": self.messages,
            "channels": [dataclasses.asdict(c) for c in self.channels],
        }


class DiscordBackfill:
    """Publishes a guild's history as events.

    Args:
        client: a logged-in client (``await client.login(token)``; no gateway needed).
        publish: where events go (the bus's ``publish``).
        since: only messages after this instant; everything when ``None``.
        progress: called after each channel or thread.
    """

    def __init__(
        self,
        client: discord.Client,
        publish: Publish,
        *,
        since: datetime | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.client = client
        self.publish = publish
        self.since = since
        self.progress = progress

    async def run(self, guild_id: int) -> BackfillReport:
        """Backfill every readable text channel, forum, thread and voice or stage chat of ``guild_id``."""
        guild = await self.client.fetch_guild(guild_id)
        report = BackfillReport(str(guild.id))
        now = datetime.now(UTC)
        channels = await guild.fetch_channels()
        readable: list[Readable] = []
        for channel in sorted(channels, key=lambda c: c.position):
            seen = normalize.channel_seen(channel, now)
            if seen is not None:
                await self.publish(seen)
            if isinstance(channel, normalize.TEXT_BEARING):
                readable.append(channel)
        try:
            active = await guild.active_threads()
        except discord.Forbidden:
            active = []
        for channel in readable:
            if not isinstance(channel, discord.ForumChannel):  # a forum's messages are in its posts
                report.channels.append(await self._history(channel, channel.name))
            if isinstance(channel, (discord.VoiceChannel, discord.StageChannel)):
                continue  # a voice or stage channel's text chat has no threads
            async for thread in self._threads(active, channel):
                # A REST-fetched guild caches no channels, so the thread's parent is passed along.
                event = normalize.thread_created(thread, self_id=self._self_id, parent=channel)
                if event is not None:
                    await self.publish(dataclasses.replace(event, source=EventSource.BACKFILL))
                report.channels.append(await self._history(thread, f"{channel.name} / {thread.name}", parent=channel))
        return report

    @property
    def _self_id(self) -> int | None:
        return self.client.user.id if self.client.user is not None else None

    async def _threads(
        self, active: list[discord.Thread], channel: discord.TextChannel | discord.ForumChannel
    ) -> AsyncIterator[discord.Thread]:
        """Active then archived public threads of ``channel`` (forum posts included)."""
        for thread in active:
            if thread.parent_id == channel.id:
                yield thread
        try:
            # Newest archive first; a thread archived before ``since`` has no newer messages.
            async for thread in channel.archived_threads(limit=None):
                if self.since is not None and thread.archive_timestamp < self.since:
                    break
                yield thread
        except discord.Forbidden:
            log.info("discord backfill: no access to the threads of #%s", channel.name)

    async def _history(
        self,
        channel: discord.TextChannel | discord.VoiceChannel | discord.StageChannel | discord.Thread,
        name: str,
        *,
        parent: discord.TextChannel | discord.ForumChannel | None = None,
    ) -> ChannelProgress:
        progress = ChannelProgress(str(channel.id), name)
        ref = normalize.channel_ref(channel, parent=parent)
        try:
            # discord.py pages through ``after`` 100 messages at a time, paced by rate-limit headers.
            async for message in channel.history(limit=None, after=self.since, oldest_first=True):
                if not normalize.is_chat(message):
                    continue
                posted = normalize.message_posted(
                    message, self_id=self._self_id, source=EventSource.BACKFILL, channel=ref
                )
                await self.publish(posted)
                progress.messages += 1
        except discord.Forbidden:
            # Channels the bot cannot read are reported, not fatal: the rest of the guild still imports.
            progress.skipped = "no permission to read history"
        if self.progress is not None:
            self.progress(progress)
        return progress
