"""Helpfulness score and the rules that decide what a message or reaction is worth.

Score (per member, summed over the rollup rows of a window)::

    5 x answers marked helpful   (asker's ✅/👍 on the reply, or the asker's thanks after it)
    3 x questions answered       (first reply by someone else to a question thread)
    2 x replies in others' threads
    1 x reactions received from others (one per member per message)
    0.5 x threads started         (a root message that got a reply)

Plain message volume scores nothing: it is shown, never ranked. Anti-gaming lives in the counter
path (messages under ``min_words`` words and messages over the per-minute cap contribute nothing,
self-reactions and bots are ignored).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

WEIGHTS: dict[str, float] = {
    "helpful": 5.0,
    "answered": 3.0,
    "replies": 2.0,
    "reactions": 1.0,
    "threads": 0.5,
}

COUNTERS: tuple[str, ...] = ("messages", "replies", "threads", "reactions", "helpful", "answered")

HELPFUL_EMOJI = frozenset(
    {"white_check_mark", "heavy_check_mark", "+1", "thumbsup", "ballot_box_with_check", "✅", "✔️", "✔", "👍", "☑️"}
)

_THANKS = re.compile(
    r"\b(thanks|thank\s*you|thx|ty|that\s+worked|this\s+worked|it\s+worked|works\s+now|solved|fixed\s+it|"
    r"that\s+fixed|that\s+did\s+it|much\s+appreciated)\b",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^\s*(how|why|what|when|where|which|who|is|are|can|could|does|do|did|should|would|will|has|have|any(one|body))\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+", re.UNICODE)


def score_sql() -> str:
    """The score as a SQL expression over summed rollup columns (same weights as :data:`WEIGHTS`)."""
    return " + ".join(f"{w} * SUM({name})" for name, w in WEIGHTS.items())


def score(counts: dict[str, int]) -> float:
    """The helpfulness score of a dict of counter totals."""
    return sum(w * counts.get(name, 0) for name, w in WEIGHTS.items())


def word_count(text: str) -> int:
    """Words in ``text`` (any script; emoji and punctuation do not count)."""
    return len(_WORD.findall(text))


def is_question(text: str) -> bool:
    """Heuristic: a question mark, or a sentence opening with a question word."""
    return "?" in text or bool(_QUESTION_START.match(text))


def is_thanks(text: str) -> bool:
    """The asker saying a reply helped ("thanks", "that worked", "solved" ...)."""
    return bool(_THANKS.search(text))


def is_helpful_emoji(emoji: str) -> bool:
    """✅ / 👍 by name (Slack, Discord) or unicode; skin-tone suffixes are ignored."""
    base = emoji.split("::")[0].strip(":")
    return base in HELPFUL_EMOJI or base.rstrip("\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff") in HELPFUL_EMOJI


def local_day(ts: datetime, tz: ZoneInfo) -> str:
    """The community-local calendar day (``YYYY-MM-DD``) of an aware timestamp."""
    return ts.astimezone(tz).date().isoformat()
