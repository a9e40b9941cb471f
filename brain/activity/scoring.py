"""Helpfulness score and the rules that decide what a message or reaction is worth.

Score (per member, summed over the rollup rows of a window)::

    5 x answers marked helpful   (the asker's ✅/👍 on a reply, or the asker's thanks after it; one per
                                  answerer per thread)
    3 x questions answered       (the reply the asker took up: ✅'d, thanked, or answered by the
                                  asker's next message; one per question)
    1 x threads replied to       (others' threads; one per thread, at most REPLY_THREADS_PER_DAY a day)
    1 x reactions received from others (one per member per message)
    0.5 x threads started         (a root message that got a reply)

Plain message volume scores nothing: it is shown, never ranked. What the asker does carries the
weight, since only the asker knows whether a reply helped; replying, which anyone can do in bulk,
is worth little and is capped. Anti-gaming lives in the counter path (messages under
``min_words`` words and messages over the per-minute cap contribute nothing, self-reactions and
bots are ignored, thanks that are negated or asked as a question are no thanks).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

# One rule for what a thank-you and a question are, shared with the community brain.
from brain.community.signals import is_question as is_question
from brain.community.signals import is_thanks as is_thanks

WEIGHTS: dict[str, float] = {
    "helpful": 5.0,
    "answered": 3.0,
    "replies": 1.0,
    "reactions": 1.0,
    "threads": 0.5,
}

COUNTERS: tuple[str, ...] = ("messages", "replies", "threads", "reactions", "helpful", "answered")
# Reply credits a member can earn in one local day (one per thread): enough for a generous helper,
# while a member replying to every thread in sight gains no more than this.
REPLY_THREADS_PER_DAY = 10

HELPFUL_EMOJI = frozenset(
    {"white_check_mark", "heavy_check_mark", "+1", "thumbsup", "ballot_box_with_check", "✅", "✔️", "✔", "👍", "☑️"}
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


def is_helpful_emoji(emoji: str) -> bool:
    """✅ / 👍 by name (Slack, Discord) or unicode; skin-tone suffixes are ignored."""
    base = emoji.split("::")[0].strip(":")
    return base in HELPFUL_EMOJI or base.rstrip("\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff") in HELPFUL_EMOJI


def local_day(ts: datetime, tz: ZoneInfo) -> str:
    """The community-local calendar day (``YYYY-MM-DD``) of an aware timestamp."""
    return ts.astimezone(tz).date().isoformat()
