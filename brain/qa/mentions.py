"""Member mentions in question text: the bot's mention is not part of what was asked."""

from __future__ import annotations

import re

# Slack <@U123>, Discord <@123> / <@!123>.
_MENTION = re.compile(r"<@!?[A-Za-z0-9]+(?:\|[^>]*)?>")


def strip_mentions(text: str) -> str:
    """``text`` without user mentions and surrounding whitespace."""
    return " ".join(_MENTION.sub(" ", text).split())
