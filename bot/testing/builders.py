"""Compact builders for events in tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from bot.events import ChannelRef, CommandInvoked, EventSource, MessagePosted, Platform, UserRef, Visibility

_ids = itertools.count(1)
BASE_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def user(
    user_id: str = "alice", *, platform: Platform = Platform.CONSOLE, workspace: str = "local", bot: bool = False
) -> UserRef:
    """A member ref."""
    return UserRef(platform, workspace, user_id, user_id, bot)


def channel(
    channel_id: str = "general",
    *,
    platform: Platform = Platform.CONSOLE,
    workspace: str = "local",
    visibility: Visibility = Visibility.PUBLIC,
    is_forum: bool = False,
) -> ChannelRef:
    """A channel ref."""
    return ChannelRef(platform, workspace, channel_id, channel_id, visibility, is_forum)


def make_message(
    text: str,
    *,
    author: UserRef | str = "alice",
    chan: ChannelRef | str = "general",
    message_id: str | None = None,
    thread_id: str | None = None,
    minutes: float = 0.0,
    ts: datetime | None = None,
    mentions_bot: bool = False,
    source: EventSource = EventSource.LIVE,
) -> MessagePosted:
    """A posted message; ``minutes`` offsets the timestamp from a fixed base time."""
    author_ref = user(author) if isinstance(author, str) else author
    chan_ref = (
        channel(chan, platform=author_ref.platform, workspace=author_ref.workspace_id)
        if isinstance(chan, str)
        else chan
    )
    mid = message_id or f"m{next(_ids)}"
    return MessagePosted(
        channel=chan_ref,
        author=author_ref,
        message_id=mid,
        text=text,
        ts=ts or BASE_TIME + timedelta(minutes=minutes),
        thread_id=thread_id,
        mentions_bot=mentions_bot,
        source=source,
    )


def command(
    name: str,
    text: str = "",
    *,
    author: UserRef | str = "alice",
    chan: ChannelRef | str = "general",
    admin: bool = False,
    options: dict[str, str] | None = None,
) -> CommandInvoked:
    """A slash-command invocation."""
    author_ref = user(author) if isinstance(author, str) else author
    chan_ref = (
        channel(chan, platform=author_ref.platform, workspace=author_ref.workspace_id)
        if isinstance(chan, str)
        else chan
    )
    return CommandInvoked(
        name=name,
        user=author_ref,
        channel=chan_ref,
        interaction_id=f"i{next(_ids)}",
        ts=BASE_TIME,
        text=text,
        options=tuple((options or {}).items()),
        is_platform_admin=admin,
    )
