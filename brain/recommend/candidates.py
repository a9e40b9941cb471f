"""Conversations as recommendation items, built from stored messages, and candidate selection.

An item is a thread, or a conversation window of unthreaded chat (``bot.conversations``: the QA
index's windows), so a channel where members talk without threads is recommended conversation by
conversation, not message by message. Items keep the ``thread_id`` name for their key: the thread
id, or a window's first message id.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.conversations import conversation_keys
from bot.store import MessageRow

THREAD = "thread"
WINDOW = "window"


@dataclass
class ThreadItem:
    """A conversation (thread or window) as the recommender sees it at a point in time."""

    thread_id: str
    channel_id: str
    author_id: str
    ts_start: float
    ts_last: float
    opening_text: str
    opening_message_id: str
    permalink: str = ""
    messages: int = 0
    participants: dict[str, int] = field(default_factory=dict)
    kind: str = THREAD


def thread_key(message: MessageRow) -> str:
    """The gold conversation of a message in an evaluation export: its thread id, or itself when
    unthreaded (every conversation with a reply is a thread there)."""
    return message.thread_id or message.message_id


def conversation_kind(key: str, thread_ids: set[str]) -> str:
    """:data:`THREAD` when some message names ``key`` as its thread, else :data:`WINDOW` (a window's
    key is its first message's id)."""
    return THREAD if key in thread_ids else WINDOW


def is_counted(message: MessageRow) -> bool:
    """Whether a message is part of the conversations the recommender sees (live, human)."""
    return not (message.deleted or message.is_bot or not message.author_id)


def build_threads(
    messages: Sequence[MessageRow],
    *,
    keys: Mapping[str, str] | None = None,
    windows: bool = True,
    starts: Mapping[str, ThreadItem] | None = None,
) -> dict[str, ThreadItem]:
    """Group live, human messages (time order) into conversations.

    Args:
        messages: Messages in time order; deleted, bot and author-less ones are skipped.
        keys: ``{message id: conversation key}`` when the caller has it (``conversation_keys``
            over the same messages); computed otherwise.
        windows: Cut unthreaded chat into conversation windows (else each message stands alone).
        starts: Threads that opened before ``messages`` begin (a history window whose thread
            roots are older than it), by thread id, as their roots make them: a thread continuing
            one keeps its starter, opening text and start instead of taking its first message in
            ``messages`` for them. An empty ``opening_text`` (a starter known, its words not) is
            filled from that first message.
    """
    live = [m for m in messages if is_counted(m)]
    if keys is None:
        keys = conversation_keys(live, windows=windows)
    thread_ids = {m.thread_id for m in live if m.thread_id}
    threads: dict[str, ThreadItem] = {}
    for m in live:
        key = keys[m.message_id]
        item = threads.get(key)
        start = starts.get(key) if item is None and starts else None
        if start is not None:
            # A copy: the caller's items stay as given, whichever history they are built into.
            # Where it is read is where its messages are now: a Discord private thread's old
            # ``threads`` row may name its public parent, and the root's channel is no better.
            item = threads[key] = dataclasses.replace(
                start, channel_id=m.channel_id, participants=dict(start.participants)
            )
            if not item.opening_text:
                item.opening_text, item.opening_message_id = m.text, m.message_id
            item.permalink = item.permalink or m.permalink
        elif item is None:
            item = threads[key] = ThreadItem(
                key,
                m.channel_id,
                m.author_id,
                m.ts,
                m.ts,
                m.text,
                m.message_id,
                m.permalink,
                kind=conversation_kind(key, thread_ids),
            )
        item.ts_last = max(item.ts_last, m.ts)
        item.messages += 1
        item.participants[m.author_id] = item.participants.get(m.author_id, 0) + 1
    return threads


def select_candidates(
    threads: Iterable[ThreadItem],
    user_id: str,
    *,
    readable_channels: set[str] | None,
    active_since: float,
    exclude_joined: bool = True,
) -> list[ThreadItem]:
    """Threads active since ``active_since`` in channels the member can read, which the member
    did not start (and, with ``exclude_joined``, has not posted in)."""
    out: list[ThreadItem] = []
    for t in threads:
        if readable_channels is not None and t.channel_id not in readable_channels:
            continue
        if t.ts_last < active_since or t.author_id == user_id:
            continue
        if exclude_joined and user_id in t.participants:
            continue
        out.append(t)
    return out


def popular_threads(threads: Sequence[ThreadItem], k: int) -> list[ThreadItem]:
    """The ``k`` threads with most participants (then messages), for cold start and baselines."""
    return sorted(threads, key=lambda t: (len(t.participants), t.messages, t.ts_last), reverse=True)[:k]
