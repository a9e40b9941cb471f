"""Typed shapes of the Slack payloads the adapter reads (the boundary, per Slack's API docs).

Only the keys we use are declared; everything is ``total=False`` because Slack omits keys freely
(a root message has no ``thread_ts``, a ``bot_message`` may have no ``user``).
"""

from __future__ import annotations

from typing import Any, TypedDict


class EditedInfo(TypedDict, total=False):
    """``message.edited``."""

    user: str
    ts: str


class SlackMessage(TypedDict, total=False):
    """A message as found in ``message`` events, ``message_changed.message`` and ``conversations.history``."""

    type: str
    subtype: str
    user: str
    bot_id: str
    username: str
    text: str
    ts: str
    thread_ts: str
    channel: str
    channel_type: str
    team: str
    edited: EditedInfo
    reply_count: int
    files: list[dict[str, Any]]
    reactions: list[dict[str, Any]]
    message: SlackMessage
    previous_message: SlackMessage
    deleted_ts: str
    event_ts: str
    hidden: bool


class EventEnvelope(TypedDict, total=False):
    """The Events API wrapper (``event_callback``); the same body arrives over Socket Mode."""

    type: str
    team_id: str
    api_app_id: str
    event_id: str
    event_time: int
    event: dict[str, Any]
    authorizations: list[dict[str, Any]]


class SlashCommandPayload(TypedDict, total=False):
    """A slash command's form fields (Bolt parses the form body into this dict)."""

    team_id: str
    team_domain: str
    enterprise_id: str
    channel_id: str
    channel_name: str
    user_id: str
    user_name: str
    command: str
    text: str
    response_url: str
    trigger_id: str
    api_app_id: str
