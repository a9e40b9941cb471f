"""How chat forms conversations: threads, and runs of unthreaded messages without a long silence.

Both the QA index (a retrieval window is a unit) and the recommender (a window is a conversation to
join) cut a channel's unthreaded messages the same way, so a recommended conversation is the very
unit whose vector the QA index already holds ("one embedding per unit, never computed twice").

Example::

    keys = conversation_keys(messages)   # {message id: conversation key}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol, TypeVar

# A silence this long (seconds) ends a conversation window in an unthreaded channel.
WINDOW_GAP_S = 30 * 60
# Windows are also capped in length so a busy channel does not become one endless window.
WINDOW_MAX_MESSAGES = 12


class ChatMessage(Protocol):
    """What grouping needs of a message (``bot.store.MessageRow`` has it)."""

    @property
    def message_id(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def channel_id(self) -> str: ...
    @property
    def thread_id(self) -> str | None: ...
    @property
    def ts(self) -> float: ...


M = TypeVar("M", bound=ChatMessage)


def split_windows(
    messages: Sequence[M], *, gap_s: float = WINDOW_GAP_S, max_messages: int = WINDOW_MAX_MESSAGES
) -> list[list[M]]:
    """Cut time-ordered unthreaded messages of one channel into conversation windows (by silence
    gap and size)."""
    windows: list[list[M]] = []
    current: list[M] = []
    for m in messages:
        if current and (m.ts - current[-1].ts > gap_s or len(current) >= max_messages):
            windows.append(current)
            current = []
        current.append(m)
    if current:
        windows.append(current)
    return windows


def thread_of(message: ChatMessage, thread_ids: set[str] | frozenset[str]) -> str | None:
    """The thread a message belongs to: its ``thread_id``, or its own id when it is the root a
    thread points at (a Discord thread started from a message); None for unthreaded chat."""
    if message.thread_id:
        return message.thread_id
    return message.message_id if message.message_id in thread_ids else None


def conversation_keys(
    messages: Sequence[M],
    *,
    windows: bool = True,
    gap_s: float = WINDOW_GAP_S,
    max_messages: int = WINDOW_MAX_MESSAGES,
) -> dict[str, str]:
    """``{message id: conversation key}`` for messages in time order (any channels).

    A thread's messages and its root share the thread id. With ``windows``, each channel's
    unthreaded messages are cut by :func:`split_windows` and keyed by the window's first message
    id; without, every unthreaded message is a conversation of its own (the structure of exports
    whose every conversation with a reply is a thread).
    """
    thread_ids = {m.thread_id for m in messages if m.thread_id}
    keys: dict[str, str] = {}
    loose: dict[tuple[str, str, str], list[M]] = defaultdict(list)
    for m in messages:
        tid = thread_of(m, thread_ids)
        if tid is not None:
            keys[m.message_id] = tid
        elif windows:
            loose[(m.platform, m.workspace_id, m.channel_id)].append(m)
        else:
            keys[m.message_id] = m.message_id
    for run in loose.values():
        for window in split_windows(run, gap_s=gap_s, max_messages=max_messages):
            for m in window:
                keys[m.message_id] = window[0].message_id
    return keys


# Retrieval-unit ids. The QA index names its units after the conversation they hold, and the
# recommender looks a conversation's vector up under that name; this is the one place that says it.


def thread_unit_base(platform: str, workspace_id: str, thread_id: str) -> str:
    """The id every unit (chunk) of a thread starts with: ``thread:<platform>:<ws>:<thread id>``."""
    return f"thread:{platform}:{workspace_id}:{thread_id}"


def window_unit_base(platform: str, workspace_id: str, channel_id: str, first_message_id: str) -> str:
    """The id every unit of a window starts with: ``win:<platform>:<ws>:<channel>:<first message id>``."""
    return f"win:{platform}:{workspace_id}:{channel_id}:{first_message_id}"


def chunk_unit_id(base: str, chunk: int = 0) -> str:
    """The id of chunk ``chunk`` of the conversation (or document) whose units start with ``base``."""
    return f"{base}#{chunk}"
