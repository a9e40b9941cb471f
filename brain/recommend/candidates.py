"""Threads as recommendation items, built from stored messages, and candidate selection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.store import MessageRow


@dataclass
class ThreadItem:
    """A thread (conversation) as the recommender sees it at a point in time."""

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


def thread_key(message: MessageRow) -> str:
    """The conversation a message belongs to: its thread id, or itself when unthreaded."""
    return message.thread_id or message.message_id


def build_threads(messages: Iterable[MessageRow]) -> dict[str, ThreadItem]:
    """Group live, human messages into threads (messages must be in time order)."""
    threads: dict[str, ThreadItem] = {}
    for m in messages:
        if m.deleted or m.is_bot or not m.author_id:
            continue
        key = thread_key(m)
        item = threads.get(key)
        if item is None:
            item = threads[key] = ThreadItem(
                key, m.channel_id, m.author_id, m.ts, m.ts, m.text, m.message_id, m.permalink
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
