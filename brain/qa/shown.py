"""Which bot message shows which logged answer, by its words: the adapters rewrite an answer as they
post it (markdown links become Slack's ``<url|label>``, mass mentions get a zero-width space, a long
answer is split over several messages), and report no posted message id back to the brain."""

from __future__ import annotations

import re
from collections.abc import Sequence

# A message showing fewer of an answer's words than this (and not all of them) is not taken for a
# part of it: another bot's "Build failed" under an answer that says "the build failed" is no answer.
MIN_SHOWN_WORDS = 5
# What an adapter may move or drop as it posts an answer, left out of the words compared: a link's
# address (Slack shows ``[label](url)`` as ``<url|label>``, the label no longer first) and a code
# fence's language tag (Slack's mrkdwn has none).
_UNCOMPARED = re.compile(r"(?:https?|mailto):[^\s<>|()\[\]]+|```[\w+#.-]*")
_WORD = re.compile(r"\w+")
# What the stored copy of a posted answer becomes when the answer is removed from the log (it quoted
# a message deleted since, or a member who asked to be forgotten): the words are gone, and the copy
# is still known for what it was (a reaction on it finds the scrubbed answer, never another's).
REMOVED_COPY = "[Guildhall answer removed: it quoted a message that is gone]"


def words(text: str) -> list[str]:
    """``text``'s words, casefolded: what every adapter's rendering of it keeps, in order."""
    return _WORD.findall(_UNCOMPARED.sub(" ", text).casefold())


def shows(shown: Sequence[str], said: Sequence[str]) -> bool:
    """Whether a message with the words ``shown`` shows the answer with the words ``said``: all of
    it, or one part of a long answer posted over several messages (a run of its words; a short
    one only as the answer's first or last part, where a split leaves a closing line)."""
    if not shown or len(shown) > len(said):
        return False
    if len(shown) < min(len(said), MIN_SHOWN_WORDS):
        n = len(shown)
        return list(said[-n:]) == list(shown) or list(said[:n]) == list(shown)
    return f" {' '.join(shown)} " in f" {' '.join(said)} "
