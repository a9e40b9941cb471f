"""Row types the store reads and writes (plain frozen dataclasses, engine-agnostic)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserRow:
    """A member as stored."""

    platform: str
    workspace_id: str
    user_id: str
    name: str = ""
    is_bot: bool = False
    tz: str | None = None
    # Of another organisation (Slack Connect); None: not known (an upsert keeps the stored value).
    external: bool | None = None
    # A guest who reads only the channels they are in (Slack guests); None: not known.
    guest: bool | None = None


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """A channel as stored; ``visibility`` is ``public`` / ``private`` / ``dm``.

    ``parent_id``: the channel a Discord private thread (stored as a channel of its own) opened in;
    ``None`` for other channels and for threads recorded before the store kept parents.
    ``shared_externally``: read by people of other organisations (Slack Connect); ``None``: not
    known (an upsert with ``None`` keeps the stored value).
    """

    platform: str
    workspace_id: str
    channel_id: str
    name: str = ""
    visibility: str = "public"
    is_forum: bool = False
    parent_id: str | None = None
    shared_externally: bool | None = None


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A message as stored. ``ts`` / ``edited_ts`` are epoch seconds; deleted messages keep no text."""

    platform: str
    workspace_id: str
    message_id: str
    channel_id: str
    author_id: str
    ts: float
    text: str
    thread_id: str | None = None
    reply_to: str | None = None
    is_bot: bool = False
    subtype: str = ""
    permalink: str = ""
    edited_ts: float | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ReactionRow:
    """One member's reaction on one message (at most one per emoji)."""

    platform: str
    workspace_id: str
    message_id: str
    user_id: str
    emoji: str
    ts: float
