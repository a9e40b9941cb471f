"""Lexicon sentiment for technical chat, and channel sentiment-drop detection.

A lexicon rather than a model: it is instant, explainable, ships no weights, and technical chat has
a vocabulary general-purpose models misread ("kill the process", "fatal" in a log line quoted for
help). Words in code spans are ignored; a negator in the three words before a term flips it.
Agreement with hand-labelled sentences is measured in ``benchmarks/activity.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
_WORD = re.compile(r"[a-z']+")


def score_text(text: str) -> float:
    """Sentiment in [-1, 1]: (positive - negative) / matched terms; 0 when nothing matches."""
    words = _WORD.findall(_CODE.sub(" ", text.lower()))
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
