"""Render recommendation lists: text with a "why this" line and a link per item, plus citations and
buttons that the adapters turn into a Discord embed / Slack blocks."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from string import Template

from bot.events import Button, Citation
from bot.valid_text import clip
from prompts import load_prompt, render_prompt

OPEN_ACTION = "recommend.open"
# The brain's ``digest_tick`` runs on the clock's quarter hours; a member's digest is due at the
# last tick at or after the digest time that still falls on the same local day.
DIGEST_TICK_MINUTES = 15
_LAST_TICK = time(23, 60 - DIGEST_TICK_MINUTES)
_MENTION = re.compile(r"<([@#!][^>]*)>")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_+#.-]{3,}")
# Words too common in chat to explain anything.
_STOP = frozenset(
    [
        "this",
        "that",
        "with",
        "have",
        "from",
        "what",
        "when",
        "your",
        "just",
        "like",
        "there",
        "they",
        "them",
        "then",
        "than",
        "will",
        "would",
        "could",
        "should",
        "about",
        "which",
        "their",
        "been",
        "were",
        "does",
        "here",
        "some",
        "into",
        "also",
        "only",
        "more",
        "most",
        "other",
        "thanks",
        "thank",
        "please",
        "know",
        "want",
        "need",
        "using",
        "used",
        "make",
        "any",
        "anyone",
        "help",
        "question",
        "questions",
        "answer",
        "answers",
        "problem",
        "problems",
        "file",
        "code",
        "work",
        "works",
        "working",
        "something",
        "think",
        "thing",
        "things",
        "first",
        "good",
        "really",
        "sure",
        "maybe",
        "even",
        "much",
        "well",
        "still",
        "take",
        "back",
        "over",
        "time",
        "people",
        "right",
        "look",
        "looks",
        "seems",
        "doesn",
        "didn",
        "isn",
        "because",
        "where",
        "these",
        "those",
        "being",
        "after",
        "before",
        "want",
        "trying",
        "getting",
        "thought",
        "hello",
        "anybody",
        "someone",
        "everyone",
        "here",
        "https",
        "http",
        "com",
        "www",
    ]
)
TITLE_CHARS = 80


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One recommended thread, ready to show."""

    thread_id: str
    channel_id: str
    channel_name: str
    title: str
    url: str
    score: float
    why: str
    explore: bool = False


def title_of(text: str) -> str:
    """A one-line title from a thread's opening message."""
    # A quoted mention must not ping anyone from a digest: keep the name, drop the markup.
    line = " ".join(
        _MENTION.sub(r"\1", text).replace("@everyone", "@\u200beveryone").replace("@here", "@\u200bhere").split()
    )
    return clip(line, TITLE_CHARS)


_MARKUP = re.compile(r"<[^<>]*>|https?://\S+|`{3}.*?`{3}|@\w+", re.DOTALL)


def _words(text: str) -> list[str]:
    """Topic-bearing words: mentions, links and code blocks removed; ids (words with digits) skipped."""
    out = []
    for w in _WORD.findall(_MARKUP.sub(" ", text)):
        key = w.lower().strip(".-")
        if len(key) >= 4 and not any(ch.isdigit() for ch in key):
            out.append(key)
    return out


def shared_topic(member_texts: Iterable[str], thread_text: str) -> str | None:
    """The word of the thread the member used most often, if any (the "asyncio" in "because you
    discussed asyncio")."""
    thread_words = {w for w in _words(thread_text)} - _STOP
    if not thread_words:
        return None
    counts: Counter[str] = Counter()
    for text in member_texts:
        for key in _words(text):
            if key in thread_words:
                counts[key] += 1
    if not counts:
        return None
    return min(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[0]


def why_line(*, channel: str, topic: str | None, social_author: str | None, explore: bool, active_hours: bool) -> str:
    """The "why this" line, most specific reason first."""
    if explore:
        return render_prompt("recommend_why_explore", channel=channel)
    if topic:
        return render_prompt("recommend_why_topic", topic=topic, channel=channel)
    if social_author:
        return render_prompt("recommend_why_social", author=social_author)
    if active_hours:
        return render_prompt("recommend_why_time", channel=channel)
    return render_prompt("recommend_why_popular", channel=channel)


def open_value(workspace_id: str, channel_id: str, thread_id: str) -> str:
    """The value of an *Open* button: :func:`parse_open_value` reverses it.

    The workspace travels with the click because a click in a Discord DM names no guild (its
    workspace is ``@me``), so the click alone cannot say which community's thread it opens.
    """
    return f"{workspace_id}|{channel_id}|{thread_id}" if workspace_id else f"{channel_id}|{thread_id}"


def parse_open_value(value: str) -> tuple[str, str, str] | None:
    """``(workspace id, channel id, thread id)`` of an *Open* button's value, the workspace ``""``
    in a value sent before buttons named it (``channel|thread``); None when it is neither."""
    parts = value.split("|")
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return None


def render(
    recs: Sequence[Recommendation],
    *,
    header: str = "recommend_list_header",
    community: str = "",
    workspace_id: str = "",
) -> tuple[str, tuple[Citation, ...], tuple[Button, ...]]:
    """Text, citations (one per thread, the embed / block fields) and "open" buttons.

    Args:
        recs: Recommendations in display order.
        header: Prompt name of the first line (``recommend_digest_header`` for the daily DM); it
            may use ``$count``, ``$picks`` ("1 pick", "3 picks") and ``$where`` (" in <community>").
        community: The workspace's name, for a header that names it.
        workspace_id: The workspace of ``recs``, carried in the buttons' values (see :func:`open_value`).
    """
    if not recs:
        return load_prompt("recommend_empty"), (), ()
    # The items travel as citations only: each platform renders them as its list (Discord embed,
    # Slack section, console lines) under the header; repeating them in the text showed every pick twice.
    citations = []
    buttons = []
    for n, rec in enumerate(recs, start=1):
        citations.append(Citation(n, f"#{rec.channel_name}: {rec.title}", rec.url, note=rec.why, kind="link"))
        # Slack wants action ids unique within a block, so each button gets its own suffix.
        buttons.append(
            Button(
                f"{OPEN_ACTION}.{n}",
                f"Open {n}",
                value=open_value(workspace_id, rec.channel_id, rec.thread_id),
                url=rec.url,
            )
        )
    picks = f"{len(recs)} pick{'' if len(recs) == 1 else 's'}"
    where = render_prompt("recommend_digest_where", community=community) if community else ""
    head = Template(load_prompt(header)).safe_substitute(count=len(recs), picks=picks, where=where)
    return head, tuple(citations), tuple(buttons[:5])


def digest_due(now_utc: datetime, tz: tzinfo, at: time, last_sent_day: str | None) -> str | None:
    """The member's local date when their digest is due now (local time past ``at`` and nothing
    sent for that local day or a later one yet), else None.

    "Later", not only "the same": a member who moves west after today's digest is back in
    yesterday there, and must not get a second digest for it (ISO dates compare as strings).

    A time after the day's last tick (23:46-23:59) counts from that tick: no tick would ever
    find the local clock past it on the same day.
    """
    local = now_utc.astimezone(tz)
    day = local.date().isoformat()
    if local.time() < min(at, _LAST_TICK) or (isinstance(last_sent_day, str) and day <= last_sent_day):
        return None
    return day
