"""Render recommendation lists: text with a "why this" line and a link per item, plus citations and
buttons that the adapters turn into a Discord embed / Slack blocks."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from string import Template

from bot.events import Button, Citation
from bot.valid_text import clip
from prompts import load_prompt, render_prompt

OPEN_ACTION = "recommend.open"
# The brain's ``digest_tick`` runs on the clock's quarter hours (whole multiples of the interval
# since the epoch, ``bot.scheduler``); a member's digest is due at the first tick at or after the
# digest time, or at the local day's last tick when no tick of the day reaches that time.
DIGEST_TICK_MINUTES = 15
_TICK_S = DIGEST_TICK_MINUTES * 60
# The markup stops at the next "<" as well as ">": with [^>]* each stray "<@" scanned to the end of the
# message (a pasted run of them cost seconds) and swallowed the real mention after it.
_MENTION = re.compile(r"<([@#!][^<>]*)>")
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
NO_TEXT_TITLE = "(no text)"  # an opening message without words (an image, a file; text unknown as of a replay)
TOPIC_CHARS = 32  # longer "words" (a pasted hash, a run of letters) explain nothing
WHY_CHARS = 160
# Invisible characters that reorder or hide text (bidi embeddings, overrides and isolates, zero-width
# spaces, C0 controls): a title or "why" line must read as it shows. Kept: the zero-width joiner
# (emoji sequences: a family, a profession), the zero-width non-joiner (Persian and Indic words are
# spelled with it) and the left-to-right / right-to-left marks (they order nothing past their place).
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f\u00ad\u061c\u180e\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


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


def visible(text: str) -> str:
    """``text`` without the invisible characters that reorder or hide it (:data:`_INVISIBLE`)."""
    return _INVISIBLE.sub("", text)


def title_of(text: str) -> str:
    """A one-line title from a thread's opening message (:data:`NO_TEXT_TITLE` when it has no words)."""
    # Invisible characters go first: the zero-width space below is ours, defusing @everyone.
    # A quoted mention must not ping anyone from a digest: keep the name, drop the markup.
    line = " ".join(
        _MENTION.sub(r"\1", visible(text))
        .replace("@everyone", "@\u200beveryone")
        .replace("@here", "@\u200bhere")
        .split()
    )
    return clip(line, TITLE_CHARS) if line else NO_TEXT_TITLE


_MARKUP = re.compile(r"<[^<>]*>|https?://\S+|`{3}.*?`{3}|@\w+", re.DOTALL)


def _words(text: str) -> list[str]:
    """Topic-bearing words: mentions, links and code blocks removed; ids (words with digits) skipped."""
    out = []
    for w in _WORD.findall(_MARKUP.sub(" ", text)):
        key = w.lower().strip(".-")
        if 4 <= len(key) <= TOPIC_CHARS and not any(ch.isdigit() for ch in key):
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
    """The "why this" line, most specific reason first: one line of at most :data:`WHY_CHARS`
    characters (a channel or display name can be long, and hold invisible characters)."""
    if explore:
        line = render_prompt("recommend_why_explore", channel=channel)
    elif topic:
        line = render_prompt("recommend_why_topic", topic=topic, channel=channel)
    elif social_author:
        line = render_prompt("recommend_why_social", author=social_author)
    elif active_hours:
        line = render_prompt("recommend_why_time", channel=channel)
    else:
        line = render_prompt("recommend_why_popular", channel=channel)
    return clip(" ".join(visible(line).split()), WHY_CHARS)


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
    """The member's local date when their digest is due now (local time past ``at``, or this is
    the local day's last tick; and nothing sent for that local day or a later one yet), else None.

    "Later", not only "the same": a member who moves west after today's digest is back in
    yesterday there, and must not get a second digest for it (ISO dates compare as strings).

    The last tick of a local day (the next tick falls on a later local date) sends a digest the
    clock never reached: a time after 23:45, or any late time on a day that ends early (America/Nuuk
    springs forward from 23:00 to midnight on 2026-03-28, so that day's last tick is 22:45).
    """
    local = now_utc.astimezone(tz)
    day = local.date()
    if isinstance(last_sent_day, str) and day.isoformat() <= last_sent_day:
        return None
    if local.time() >= at:
        return day.isoformat()
    # The tick this call belongs to (ticks fall on whole multiples of the interval) and the next.
    stamp = now_utc.timestamp()
    next_tick = datetime.fromtimestamp(stamp - stamp % _TICK_S, UTC) + timedelta(seconds=_TICK_S)
    return day.isoformat() if next_tick.astimezone(tz).date() > day else None
