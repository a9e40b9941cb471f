"""Retrieval units: the pieces of history that carry meaning on their own.

A thread (Slack thread, Discord thread or forum post) is one unit, split into chunks at message
boundaries when long. Unthreaded messages are grouped into *conversation windows*: runs of
consecutive messages without a long silence, chunked the same way. Unit ids are stable for the same
source (``thread:<platform>:<ws>:<thread_id>#k``, ``win:<platform>:<ws>:<channel>:<first_msg_id>#k``),
so re-indexing a thread or window replaces its previous units.

Example::

    units = build_units(await store.thread_messages(p, ws, thread_id), channel_row)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from bot.conversations import (
    WINDOW_GAP_S,
    WINDOW_MAX_MESSAGES,
    chunk_unit_id,
    thread_of,
    thread_unit_base,
    window_unit_base,
)
from bot.conversations import split_windows as split_conversation_windows
from bot.ml import Unit
from bot.store import ChannelRow, MessageRow

# ``Unit.extra`` flag of a thread whose accepted answer is known (✅ by the asker, "Mark solved",
# the asker's thanks); retrieval ranks such threads higher.
SOLVED_FLAG = "solved"

# MiniLM reads ~256 word pieces (about 1,000 characters of chat); longer chunks are still fully
# searchable by BM25 but the dense vector only sees their head, so chunks stay near that size.
MAX_CHUNK_CHARS = 1200
# Conversation windows (WINDOW_GAP_S, WINDOW_MAX_MESSAGES) are cut as in ``bot.conversations``,
# shared with the recommender, whose conversations to join are these windows.
# A later chunk of a long thread or window is embedded with this much of its first chunk in front,
# kept in ``Unit.extra[CONTEXT_KEY]``: the encoder sees one chunk at a time, and without the
# opening, chunks ``#1``, ``#2``... lose what the conversation is about. Dense only: BM25 indexes the
# chunk's own text (with the opening too it gained nothing). Measured in benchmarks/qa_retrieval.py.
CONTEXT_CHARS = 300
CONTEXT_KEY = "context"


@dataclass(frozen=True, slots=True)
class UnitConfig:
    """Sizes used to cut units; the defaults suit MiniLM-sized encoders."""

    max_chunk_chars: int = MAX_CHUNK_CHARS
    window_gap_s: float = WINDOW_GAP_S
    window_max_messages: int = WINDOW_MAX_MESSAGES
    context_chars: int = CONTEXT_CHARS


DEFAULT_CONFIG = UnitConfig()


def group_key(message: MessageRow) -> str:
    """The key of the thread or channel a message's unit is built from.

    ``thread:<platform>:<ws>:<thread_id>`` for thread messages (and roots), otherwise
    ``chan:<platform>:<ws>:<channel_id>`` (windows are recomputed per channel stretch).
    """
    if message.thread_id:
        return thread_unit_base(message.platform, message.workspace_id, message.thread_id)
    return f"chan:{message.platform}:{message.workspace_id}:{message.channel_id}"


def is_indexable(message: MessageRow) -> bool:
    """Whether a message's text belongs in the index (live, human, with something visible)."""
    return not message.deleted and not message.is_bot and _has_visible(message.text)


# Letters that render as nothing, used to post "blank" messages: Hangul fillers, the blank braille
# pattern, the combining grapheme joiner.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")


def _has_visible(text: str) -> bool:
    # Zero-width spaces, joiners and direction marks (format characters) are not whitespace to
    # str.strip(), nor are the blank letters: a message of only those (a "blank" message) was
    # indexed as a unit of no text.
    return any(not c.isspace() and c not in _BLANK_LETTERS and unicodedata.category(c) != "Cf" for c in text)


def build_units(
    messages: list[MessageRow], channel: ChannelRow, *, config: UnitConfig = DEFAULT_CONFIG, title: str = ""
) -> list[Unit]:
    """Build retrieval units from messages of one channel.

    Messages that share a ``thread_id`` (or are the root a thread id points at) become one thread
    unit each; the others become conversation windows. Deleted, bot and empty messages are skipped.

    Args:
        messages: Messages of ``channel`` in any order (a whole channel, one thread, or a stretch).
        channel: The channel they were posted in; its visibility is copied onto every unit.
        config: Chunk and window sizes.
        title: Optional title for thread units (forum post title); searched with the text.

    Returns:
        Units in time order; chunks of one source are numbered ``#0``, ``#1``...
    """
    live = sorted((m for m in messages if is_indexable(m)), key=lambda m: (m.ts, m.message_id))
    thread_ids = {m.thread_id for m in live if m.thread_id}
    threads: dict[str, list[MessageRow]] = {}
    loose: list[MessageRow] = []
    for m in live:
        tid = thread_of(m, thread_ids)
        if tid:
            threads.setdefault(tid, []).append(m)
        else:
            loose.append(m)
    units: list[Unit] = []
    for tid, msgs in threads.items():
        base = thread_unit_base(channel.platform, channel.workspace_id, tid)
        units.extend(_chunked(base, msgs, channel, "thread", tid, config, title))
    for window in split_windows(loose, config):
        base = window_unit_base(channel.platform, channel.workspace_id, channel.channel_id, window[0].message_id)
        units.extend(_chunked(base, window, channel, "window", None, config, ""))
    units.sort(key=lambda u: (u.ts_start, u.unit_id))
    return units


def embedding_text(unit: Unit) -> str:
    """The text a unit's vector is computed from: its title, the opening it continues, its own text."""
    return "\n".join(part for part in (unit.title, unit.extra.get(CONTEXT_KEY, ""), unit.text) if part)


def split_windows(messages: Sequence[MessageRow], config: UnitConfig = DEFAULT_CONFIG) -> list[list[MessageRow]]:
    """Cut time-ordered unthreaded messages into conversation windows (by silence gap and size)."""
    return split_conversation_windows(messages, gap_s=config.window_gap_s, max_messages=config.window_max_messages)


def _splitter(config: UnitConfig) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(chunk_size=config.max_chunk_chars, chunk_overlap=100)


def _pieces(messages: Iterable[MessageRow], config: UnitConfig) -> list[tuple[MessageRow, str]]:
    """Messages as (message, text) pieces; a single over-long message is split by the text splitter."""
    out: list[tuple[MessageRow, str]] = []
    for m in messages:
        text = m.text.strip()
        if len(text) <= config.max_chunk_chars:
            out.append((m, text))
        else:
            out.extend((m, part) for part in _splitter(config).split_text(text))
    return out


def _chunked(
    base: str,
    messages: list[MessageRow],
    channel: ChannelRow,
    kind: str,
    thread_id: str | None,
    config: UnitConfig,
    title: str,
) -> list[Unit]:
    # Chunks break at message boundaries so every chunk knows exactly which messages it holds
    # (citations and the evaluation's "unit contains answer id" both depend on it).
    chunks: list[list[tuple[MessageRow, str]]] = [[]]
    size = 0
    for piece in _pieces(messages, config):
        if chunks[-1] and size + len(piece[1]) > config.max_chunk_chars:
            chunks.append([])
            size = 0
        chunks[-1].append(piece)
        size += len(piece[1]) + 1
    units: list[Unit] = []
    for k, chunk in enumerate(chunks):
        msgs = list(dict.fromkeys(m for m, _ in chunk))
        text = "\n".join(t for _, t in chunk)
        first = msgs[0]
        opening = units[0].text[: config.context_chars] if units and config.context_chars > 0 else ""
        units.append(
            Unit(
                unit_id=chunk_unit_id(base, k),
                platform=channel.platform,
                workspace_id=channel.workspace_id,
                channel_id=channel.channel_id,
                text=text,
                message_ids=tuple(m.message_id for m in msgs),
                author_ids=tuple(dict.fromkeys(m.author_id for m in msgs)),
                thread_id=thread_id,
                ts_start=msgs[0].ts,
                ts_end=msgs[-1].ts,
                visibility=channel.visibility,
                kind=kind,
                url=first.permalink,
                title=title,
                extra={CONTEXT_KEY: opening} if opening else {},
            )
        )
    return units
