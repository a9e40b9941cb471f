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
