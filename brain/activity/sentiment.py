"""Lexicon sentiment for technical chat, and channel sentiment-drop detection.

A lexicon rather than a model: it is instant, explainable, ships no weights, and technical chat has
a vocabulary general-purpose models misread ("kill the process", "fatal" in a log line quoted for
help). Words in code spans are ignored; a negator in the three words before a term flips it.
Agreement with hand-labelled sentences is measured in ``benchmarks/activity.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def _words(text: str) -> frozenset[str]:
    """A word set from whitespace-separated text (long lists read better as prose)."""
    return frozenset(text.split())


POSITIVE = _words("""thanks thank thx ty great awesome amazing perfect nice cool love loved lovely helpful works worked working
    solved fixed resolved excellent brilliant appreciate appreciated glad happy wonderful fantastic neat clean
    easy elegant fast smooth welcome congrats congratulations yay hooray kudos superb impressive handy fine
    success successfully finally enjoy enjoyed useful good better best clear""")
NEGATIVE = _words("""broken broke breaks fail fails failed failing failure error errors crash crashes crashed crashing bug buggy
    annoying annoyed frustrating frustrated frustration terrible horrible awful hate hated useless stuck
    confusing confused wtf ugh slow painful pain nightmare mess messy worse worst bad sucks sad angry
    disappointed disappointing impossible ridiculous garbage hell unusable regression hang hangs hanging
    freezes frozen lost wrong problem problems issue issues struggling struggle giving tired""")
NEGATORS = _words("not no never don't doesn't didn't isn't wasn't can't cannot won't nothing without hardly")
_CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)
# Whole words of any script, so "très" or "ошибка" is one unknown word, never ASCII fragments that
# happen to be lexicon terms; an apostrophe inside a word keeps "don't" whole, and the typographic
# one phones and macOS type (don’t) is read as the plain one, or "it isn’t working" would lose its
# negator and read as positive.
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})


def score_text(text: str) -> float:
    """Sentiment in [-1, 1]: (positive - negative) / matched terms; 0 when nothing matches."""
    words = _WORD.findall(_CODE.sub(" ", text.lower().translate(_APOSTROPHES)))
    pos = neg = 0
    for i, word in enumerate(words):
        polarity = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if polarity == 0:
            continue
        if any(w in NEGATORS for w in words[max(0, i - 3) : i]):
            polarity = -polarity
        if polarity > 0:
            pos += 1
        else:
            neg += 1
    return 0.0 if pos + neg == 0 else (pos - neg) / (pos + neg)


def label(text: str, margin: float = 0.0) -> str:
    """``positive`` / ``negative`` / ``neutral``."""
    s = score_text(text)
    return "positive" if s > margin else "negative" if s < -margin else "neutral"


@dataclass(frozen=True, slots=True)
class SentimentDrop:
    """A channel whose recent mood fell clearly below its own baseline."""

    channel_id: str
    recent: float
    baseline: float
    recent_messages: int


def sentiment_drop(
    channel_id: str,
    recent: Sequence[str],
    baseline: Sequence[str],
    *,
    min_messages: int = 20,
    min_drop: float = 0.25,
) -> SentimentDrop | None:
    """Compare mean sentiment of ``recent`` messages with ``baseline`` ones; None when no clear drop."""
    if len(recent) < min_messages or len(baseline) < min_messages:
        return None
    r = sum(map(score_text, recent)) / len(recent)
    b = sum(map(score_text, baseline)) / len(baseline)
    if b - r >= min_drop:
        return SentimentDrop(channel_id, r, b, len(recent))
    return None


def channel_mood_drop(
    channel_id: str,
    recent_by_author: Mapping[str, Sequence[str]],
    baseline: Sequence[str],
    *,
    min_authors: int = 3,
    min_other_messages: int = 10,
    min_other_authors: int = 2,
    min_drop: float = 0.25,
) -> SentimentDrop | None:
    """A channel's mood drop, when it is its members' and not one member's.

    On top of :func:`sentiment_drop` over every recent message: at least ``min_authors`` members
    spoke, and without the most active one the drop still holds on at least ``min_other_messages``
    messages from ``min_other_authors`` members, of whom at least ``min_other_authors`` said
    something negative. One member's bad day, with two others saying something neutral, is no mood
    drop: neutral text scores 0, which in a usually cheerful channel reads as a drop on its own.
    """
    if len(recent_by_author) < min_authors:
        return None
    recent = [text for texts in recent_by_author.values() for text in texts]
    drop = sentiment_drop(channel_id, recent, baseline, min_drop=min_drop)
    if drop is None:
        return None
    loudest = max(recent_by_author, key=lambda a: len(recent_by_author[a]))
    others = {a: texts for a, texts in recent_by_author.items() if a != loudest and texts}
    unhappy = sum(1 for texts in others.values() if any(score_text(t) < 0 for t in texts))
    if len(others) < min_other_authors or unhappy < min_other_authors:
        return None
    rest = [text for texts in others.values() for text in texts]
    if sentiment_drop(channel_id, rest, baseline, min_messages=min_other_messages, min_drop=min_drop) is None:
        return None
    return drop
