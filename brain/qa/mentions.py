"""Member mentions in question text: the bot's mention is not part of what was asked."""

from __future__ import annotations

import re

# Slack <@U123>, Discord <@123> / <@!123>, and Discord role mentions <@&123> (on Discord, typing
# @guildhall often picks the bot's own integration role); Slack <!here> / <!subteam^S1|@team>.
_MENTION = re.compile(r"<@[!&]?[A-Za-z0-9]+(?:\|[^<>]*)?>|<!(?:here|channel|everyone|subteam\^[A-Z0-9]+)(?:\|[^<>]*)?>")
# A letter or digit of any script: "?", "🤔" or "..." alone ask nothing, "为什么" or "ошибка" do.
_WORD = re.compile(r"[^\W_]")
# Fewer characters than this ask nothing answerable ("hi", "ok").
MIN_QUESTION_CHARS = 3


def strip_mentions(text: str) -> str:
    """``text`` without user mentions and surrounding whitespace."""
    return " ".join(_MENTION.sub(" ", text).split())


def asks_something(question: str) -> bool:
    """Whether ``question`` (mentions already stripped) holds something to search for: at least
    :data:`MIN_QUESTION_CHARS` characters and a letter or digit, not only emoji or punctuation."""
    return len(question) >= MIN_QUESTION_CHARS and _WORD.search(question) is not None
