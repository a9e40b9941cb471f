"""Helpfulness score and the rules that decide what a message or reaction is worth.

Score (per member, summed over the rollup rows of a window)::

    5 x answers marked helpful   (the asker's ✅/👍 on a reply, or the asker's thanks after it; one per
                                  answerer per thread)
    3 x questions answered       (the reply the asker took up: ✅'d, thanked, or answered by the
                                  asker's next message; one per question)
                                 (both: from at most ASKER_THREADS_PER_DAY questions of one asker's
                                  local day per answerer)
    1 x threads replied to       (others' threads; one per thread, at most REPLY_THREADS_PER_DAY a day)
    1 x reactions received from others (one per member per message; at most
                                  ``activity.reactions_per_day`` a day, REACTION_POINTS_PER_DAY
                                  by default)
    0.5 x threads started         (a root message that got a reply; both long enough; at most
                                  STARTED_THREADS_PER_DAY a day)

Plain message volume scores nothing: it is shown, never ranked. What the asker does carries the
weight, since only the asker knows whether a reply helped; replying, which anyone can do in bulk,
is worth little and is capped. Anti-gaming lives in the counter path (messages under
``min_words`` words and messages over the per-minute cap contribute nothing, and neither do the
reactions, marks and threads they get; self-reactions and bots are ignored, thanks that are negated
or asked as a question are no thanks, and an asker's "no, that did not help" takes no reply up).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.words import MARKS, UNSPACED, nfc

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
# Reaction points a member can score per local day (the day of the messages reacted to), unless the
# ``activity.reactions_per_day`` setting says otherwise. Anyone can
# react, and an alt account can react to everything: like replies, reactions earn little and are
# capped. The cap is applied when the board is read (:func:`score_sql`), not when reactions are
# counted, so that removing a reaction or editing a message changes the rollups by exactly what the
# reaction or the message added, whatever else happened that day.
REACTION_POINTS_PER_DAY = 10
# Questions of one asker, of one local day, whose marks ("helpful") and take-up ("answered") one
# answerer can earn. The asker's word carries the most weight, so it is what a pair of accounts
# farms: an alt asking thirty questions an hour, each ✅'d on its friend's reply, made 8 points a
# question. A real helper rarely solves more than a couple of one member's questions in a day.
ASKER_THREADS_PER_DAY = 2
# Thread-started credits a member can earn per local day (of the thread's root). Asking is welcome
# but is not help: uncapped, an account posting thirty questions a day scored 15 points from asking
# alone, more than a member whose replies answered two questions (2 x (3 + 1)). A member genuinely
# stuck rarely opens more than three separate threads in a day, and 3 x 0.5 = 1.5 points stays below
# a single answered question.
STARTED_THREADS_PER_DAY = 3

HELPFUL_EMOJI = frozenset(
    {"white_check_mark", "heavy_check_mark", "+1", "thumbsup", "ballot_box_with_check", "✅", "✔️", "✔", "👍", "☑️"}
)

# A word runs on through combining marks, which ``\w`` leaves out: Hindi "डेटाबेस" counted as four.
_WORD = re.compile(rf"\w[\w{MARKS}]*")
# What an asker says when a reply did not help, beyond the negations is_thanks already knows
# ("did not help", "still doesn't work"): the same error again, still failing, a plain "nope".
_STILL_FAILING = re.compile(
    r"\bnope\b|\b(?:same|still)\s+(?:\w+\s+){0,3}?(?:errors?|exceptions?|issues?|problems?|fail\w*|broken|crash\w*)\b",
    re.IGNORECASE,
)


def score_sql() -> str:
    """The score as a SQL expression over summed rollup columns (same weights as :data:`WEIGHTS`).

    The ``reactions`` column it sums must already be capped per member and day
    (:func:`capped_reactions_sql`)."""
    return " + ".join(f"{w} * SUM({name})" for name, w in WEIGHTS.items())


def capped_reactions_sql(column: str = "reactions", cap: int = REACTION_POINTS_PER_DAY) -> str:
    """A member's reactions of one day, summed over the rollup rows of a ``GROUP BY user_id, day``,
    capped at ``cap`` (``activity.reactions_per_day``; ``CASE``: SQLite has no ``LEAST``, PostgreSQL
    no two-argument ``MIN``)."""
    cap = int(cap)  # formatted into the SQL: never anything but a number
    return f"CASE WHEN SUM({column}) > {cap} THEN {cap} ELSE SUM({column}) END"


def score(counts: dict[str, int]) -> float:
    """The helpfulness score of a dict of counter totals."""
    return sum(w * counts.get(name, 0) for name, w in WEIGHTS.items())


def score_text(value: float) -> str:
    """A score as shown on boards: exact (scores are multiples of 0.5), never in exponent form
    (``:g`` keeps six digits: ``1234567.5`` would show as ``1.23457e+06``)."""
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def is_rejection(text: str) -> bool:
    """True when the asker says a reply did not help: "no, that did not help", "still doesn't
    work", "same error", "nope". Such a message takes no reply up (no "answered" credit).

    The negations are :func:`is_thanks`'s own, reused rather than copied: a plain "thanks." followed
    by ``text`` stops being a thank-you exactly when ``text`` negates it."""
    return not is_thanks("thanks. " + text) or bool(_STILL_FAILING.search(text))


# Han and kana are written without spaces: a run of them is one regex "word" however long, so a
# whole Chinese or Japanese answer counted as one word, under min_words, and earned nothing (nor
# answered a question). A run counts a word per two characters, about a word's average length there.
_UNSPACED_RUN = re.compile(f"[{UNSPACED}]+")


def word_count(text: str) -> int:
    """Words in ``text`` (any script; emoji and punctuation do not count; Han and kana by pairs)."""
    count = 0
    for word in _WORD.findall(nfc(text)):
        runs = _UNSPACED_RUN.findall(word)
        if not runs:
            count += 1
            continue
        count += sum((len(run) + 1) // 2 for run in runs)
        count += sum(1 for rest in _UNSPACED_RUN.split(word) if rest)  # a latin part glued to it
    return count


def is_helpful_emoji(emoji: str) -> bool:
    """✅ / 👍 by name (Slack, Discord) or unicode; skin-tone suffixes are ignored."""
    base = emoji.split("::")[0].strip(":")
    return base in HELPFUL_EMOJI or base.rstrip("\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff") in HELPFUL_EMOJI


def local_day(ts: datetime, tz: ZoneInfo) -> str:
    """The community-local calendar day (``YYYY-MM-DD``) of an aware timestamp."""
    return ts.astimezone(tz).date().isoformat()
