"""What the model is shown of the retrieved units: sanitised text within a rank-ordered budget.

Retrieved text is *data*: role-like markup in it (chat-template tokens, ``system:`` prefixes, fake
``</source>`` tags) is neutralised by :func:`sanitize_source`, so a message saying "ignore previous
instructions" stays quoted text.

On a CPU the prompt's length is paid twice: once to prefill it (time grows with every token) and
again at every decoded token (each attends over the whole KV cache). Retrieval already ranked the
units, so the budget is spent in that order:

1. every unit is first cut to ``source_chars`` (one long thread must not crowd out the rest);
2. the best-ranked unit is always shown (cut to the budget if it alone exceeds it);
3. units that fit are shown whole; the first one that does not is trimmed to what is left, if at
   least ``min_chars`` is left, else it and every lower-ranked unit are dropped.

The text is sanitised before it is measured, so :attr:`Source.text` is exactly what the prompt
holds, and the grounding check verifies the draft against that same text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.ml import ScoredUnit

SOURCE_CHARS = 1200
MIN_CHARS = 200
_ELLIPSIS = " …"

# Markup a chat message could use to pose as the prompt's structure or another role.
_ROLE_MARKUP = [
    re.compile(r"<\|[^|>]{0,40}\|>"),  # <|im_start|>, <|system|>, <|endoftext|>
    re.compile(r"</?\s*(?:source|system|assistant|user|human|inst|s)\b[^>]{0,80}>", re.IGNORECASE),
    re.compile(r"\[/?\s*INST\s*\]|<</?SYS>>", re.IGNORECASE),
    re.compile(r"^\s*#{2,}\s*(?:instruction|system|response|assistant)s?\b:?", re.IGNORECASE | re.MULTILINE),
]
_ROLE_PREFIX = re.compile(r"^(\s*)(system|assistant|user|human)\s*:", re.IGNORECASE | re.MULTILINE)


def sanitize_source(text: str) -> str:
    """Neutralise role-like markup in retrieved text (it is quoted data, not prompt structure)."""
    for pattern in _ROLE_MARKUP:
        text = pattern.sub(" ", text)
    return _ROLE_PREFIX.sub(r"\1\2 (quoted):", text)


@dataclass(frozen=True, slots=True)
class Source:
    """A unit as shown to the model: source ``n`` of the prompt is ``sources[n - 1]``."""

    item: ScoredUnit
    channel: str
    text: str  # sanitised and cut, exactly as in the prompt
    trimmed: bool  # cut short by the budget (not only by ``source_chars``)


def fit_sources(
    units: Sequence[ScoredUnit],
    channels: Sequence[str],
    *,
    budget_chars: int,
    source_chars: int = SOURCE_CHARS,
    min_chars: int = MIN_CHARS,
) -> list[Source]:
    """The best-ranked ``units`` whose text fits ``budget_chars`` (see the module docstring).

    Args:
        units: Retrieved units, best first.
        channels: ``#name`` of each unit's channel (same order).
        budget_chars: Characters of source text the whole prompt may hold.
        source_chars: Most characters of one unit.
        min_chars: A unit trimmed to fewer characters than this is dropped instead.

    Returns:
        The sources to show, in rank order; never empty when ``units`` is not.
    """
    sources: list[Source] = []
    left = budget_chars
    for item, channel in zip(units, channels, strict=True):
        text = sanitize_source(item.unit.text)[:source_chars]
        if len(text) <= left:
            sources.append(Source(item, channel, text, False))
            left -= len(text)
            continue
        if sources and left < min_chars:
            break
        sources.append(Source(item, channel, _cut(text, max(left, 1)), True))
        break
    return sources


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when one is near, marked ``…``."""
    if limit <= len(_ELLIPSIS):
        return text[:limit]
    head = text[: limit - len(_ELLIPSIS)]
    space = head.rfind(" ")
    if space >= len(head) * 3 // 4:
        head = head[:space]
    return head.rstrip() + _ELLIPSIS
