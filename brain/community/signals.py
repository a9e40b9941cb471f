"""Cheap text and reaction signals: is this a question, a thank-you, a correction, a 'solved' mark?

Heuristics on purpose: they run on every message, must be explainable to admins, and are evaluated
on the real chats in ``benchmarks/community_eval.py`` (human-first replay) rather than tuned by hand.
"""

from __future__ import annotations

import re

from bot.words import UNSPACED

SOLVED_EMOJI = frozenset({"white_check_mark", "heavy_check_mark", "ballot_box_with_check", "✅", "✔️", "✔", "☑️"})

_QUESTION_START = re.compile(
    r"^\s*(?:how|what|why|where|when|which|who|is|are|can|could|does|do|did|should|would|will|has|have|any(?:one|body)|"
    r"is there|help|hi\b.*\?|hello\b.*\?)\b",
    re.IGNORECASE,
)
_THANKS = re.compile(
    r"\b(?:thanks?|thank you|thx|ty|tysm|cheers|that (?:worked|works|did it|fixed it)|works now|(?:it'?s )?solved|"
    r"problem solved|got it working|you(?:'re| are) (?:a|the) (?:star|hero|legend)|appreciate it)\b",
    re.IGNORECASE,
)
_NEGATED_THANKS = re.compile(
    r"\b(?:no|not|never|doesn'?t|didn'?t|still)\b[^.!?]{0,20}\b(?:work|solved|fixed|help)|"
    r"\bno\s+(?:thanks|thank\s*you|thx)\b|\b(?:worked|working)\s+(?:before|until|yesterday)|\bused\s+to\s+work\b|"
    # Said while still asking ("thanks in advance"): nothing was solved yet.
    r"\b(?:thanks?|thank\s+you|thx|ty)\s+in\s+advance\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")  # "2.0" and "e.g." stay inside their sentence
_CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)


# The question mark of Latin and other scripts, the full-width one of Chinese and Japanese, Arabic's.
_QUESTION_MARKS = ("?", "\uff1f", "\u061f")
_UNSPACED = re.compile(f"[{UNSPACED}]")


def is_question(text: str) -> bool:
    """True for messages that ask something: a '?' outside code, or a question opener in a message
    that does not end as a statement ("Have a great weekend everyone!", "Did a talk on asyncio.").

    The one rule for every brain: activity counts unanswered questions with it, the community brain
    decides which help-channel messages wait for an answer."""
    prose = _CODE.sub(" ", text).strip()
    # Chinese and Japanese say in four characters ("怎么安装？") what takes eight letters elsewhere.
    if len(prose) < (4 if _UNSPACED.search(prose) else 8):
        return False
    if any(mark in prose for mark in _QUESTION_MARKS):
        return True
    return bool(_QUESTION_START.match(prose)) and not prose.endswith(("!", "."))


# The asker saying the problem is gone, not merely thanking: "got it working", "that fixed it",
# "never mind, figured it out". A polite "Any ideas? Thanks!" or "thanks, still the same error" is no
# such word: it stops nothing.
_RESOLVED = re.compile(
    r"\b(?:got it (?:working|to work|running|fixed)|(?:that|this|it) (?:worked|works now|did it|did the trick|fixed it)|"
    r"works now|(?:problem |it'?s |all )?(?:solved|fixed|sorted)(?: it| now)?|figured it out|never\s?mind|nvm|"
    r"no longer (?:needed|an issue)|"
    # "Found the issue: a stale lock file", "figured out the problem" - the phrase ending there, not
    # "found the bug report upstream" or "tracked down the cause to the proxy" (still asking).
    r"(?:found|figured out|tracked down) (?:the|my) (?:issue|problem|bug|cause|culprit|fix|solution)"
    r"(?=\s*(?:[:;,.!)\u2014-]|$)))\b",
    re.IGNORECASE,
)
_STILL_STUCK = re.compile(
    r"\b(?:still|same|again|but|however|though|another|one more|any ideas?|anyone)\b|"
    r"\bnot\s+(?:yet|working|solved|fixed|sure)\b|"
    # Hedged: "I think I found the issue", "maybe that fixed it, will try".
    r"\b(?:i think|maybe|might|probably|perhaps|will try|trying)\b|"
    # New trouble or a new question after the good news: "found the fix, now the build fails".
    r"\b(?:fails?|failing|failed|errors?|crash(?:es|ed)?|any clue|how (?:to|do|can))\b",
    re.IGNORECASE,
)
# A "but" that only thanks ("it works now, but thanks anyway"): no new trouble after it.
_BUT_THANKS = re.compile(
    r"\b(?:but|however),?\s+(?:thanks?|thank\s+you|thx|ty|cheers)"
    r"(?:\s+(?:anyway|anyways|though|all the same|(?:so much )?for (?:the|your) (?:help|time|replies|answers?)))?"
    r"\s*(?:[.!]+|$)",
    re.IGNORECASE,
)


def is_resolved(text: str) -> bool:
    """True when the asker says their problem is gone ("got it working, thanks", "never mind,
    figured it out", "found the issue: a stale lock file", "it works now, but thanks anyway"): the
    bot need not answer. Stricter than :func:`is_thanks` (a thanked bump, "thanks, still failing",
    "it works now but I get another error" or a hedged "I think I found the issue" is no
    resolution), as it silences the bot for good."""
    prose = _CODE.sub(" ", text)
    if any(mark in prose for mark in _QUESTION_MARKS) or _NEGATED_THANKS.search(prose):
        return False
    if _STILL_STUCK.search(_BUT_THANKS.sub(".", prose)):
        return False
    return bool(_RESOLVED.search(prose))


def is_thanks(text: str) -> bool:
    """True for an asker's thank-you / 'that worked': not 'thanks but it still fails', 'no thanks,
    that did not help', 'thanks in advance', nor a question ('is it solved in 2.0?'); 'thanks! one
    more thing: ...?' is."""
    prose = _CODE.sub(" ", text)
    if _NEGATED_THANKS.search(prose):
        return False
    return any(
        _THANKS.search(sentence) and not sentence.rstrip().endswith("?") for sentence in _SENTENCE_END.split(prose)
    )


def emoji_name(emoji: str) -> str:
    """Normalise ``:white_check_mark:`` / ``white_check_mark::skin-tone-2`` to a bare name."""
    return emoji.strip(":").split("::")[0]


def is_solved_emoji(emoji: str) -> bool:
    """True for the check-mark reactions that mark an accepted answer."""
    return emoji_name(emoji) in SOLVED_EMOJI
