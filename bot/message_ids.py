"""Message and thread ids that are unique within a workspace, on every platform.

The store, the bus's de-duplication and the QA index all key a message by
``(platform, workspace, message id)``. Discord ids are snowflakes, unique across the whole
platform, and console ids are ours. A Slack message, though, is identified by its channel *and* its
``ts``: Slack promises a ``ts`` unique only within one channel. So Guildhall names a Slack message
(and a Slack thread, by its root) ``"<channel id>:<ts>"``. Adapters build these ids on the way in and
take the ``ts`` back out on the way to Slack's Web API; people and gold files see the ``ts`` again
through :func:`native_id`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

_E = TypeVar("_E", bound=Any)

SEPARATOR = ":"  # never part of a Slack channel id or a ts


def slack_message_id(channel_id: str, ts: str) -> str:
    """Guildhall's id for the Slack message (or thread root) ``ts`` in ``channel_id``."""
    return f"{channel_id}{SEPARATOR}{ts}"


def slack_message_id_or_none(channel_id: str, ts: str | None) -> str | None:
    """:func:`slack_message_id`, passing ``None`` or ``""`` (no thread) through as ``None``."""
    return slack_message_id(channel_id, ts) if ts else None


def slack_ts(message_id: str) -> str:
    """The Slack ``ts`` inside a Guildhall id (an id stored before channel-qualified ids is one already)."""
    return message_id.rpartition(SEPARATOR)[2]


def native_id(platform: str, message_id: str) -> str:
    """The id as the platform (and its exports) write it: the bare ``ts`` for Slack, else unchanged."""
    return slack_ts(message_id) if platform == "slack" else message_id


def qualified(platform: str, channel_id: str, message_id: str) -> str:
    """``message_id`` as Guildhall names it now.

    A bare Slack ts written before ids named their channel (the value of a button posted then, an
    event queued across an upgrade) gains ``channel_id``; anything else is returned unchanged.
    """
    if platform == "slack" and message_id and channel_id and SEPARATOR not in message_id:
        return slack_message_id(channel_id, message_id)
    return message_id


_ID_FIELDS = ("message_id", "thread_id", "reply_to")


def upgraded(event: _E) -> _E:
    """``event`` with any bare Slack ids qualified by its channel (see :func:`qualified`).

    Events written to a Redis stream (or its dead-letter list) by an earlier version are still
    delivered after an upgrade; stored under bare ids they would miss the migrated rows their edits,
    deletes and replies refer to.
    """
    channel = getattr(event, "channel", None)
    if channel is None or getattr(channel, "platform", None) != "slack":
        return event
    changes = {}
    for name in _ID_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, str) and value and SEPARATOR not in value:
            changes[name] = slack_message_id(channel.channel_id, value)
    return dataclasses.replace(event, **changes) if changes else event
