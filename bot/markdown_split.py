"""Splitting long markdown into platform-sized messages without breaking code blocks.

Shared by the adapters: Discord sends each chunk as a message, Slack as a section block.
"""

from __future__ import annotations

import re

_FENCE = "```"
# A code block's language tag: ```python, ```c++, ```objective-c (what follows the fence on its line).
_LANGUAGE_TAG = re.compile(r"[\w+#.-]{1,24}")
# Spans a cut must not fall inside: a markdown link ([text](url)), Slack or Discord markup
# (<https://x|text>, <@U1>), an escaped entity. Cut in two, a link shows as raw brackets.
_UNBREAKABLE = re.compile(r"\[[^\[\]\n]*\]\([^()\s]*\)|<[^<>\n]*>|&(?:amp|lt|gt);")
_SPAN_LOOKAHEAD = 4000  # how far past the cut a span is looked for (a link is far shorter)


def split_message(text: str, limit: int = 2000) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters, never breaking a code block.

    Cuts prefer paragraph, then line, then word boundaries. When a cut must fall inside a fenced
    code block, the fence is closed at the end of the chunk and re-opened (same language tag) at
    the start of the next, so every chunk renders as valid markdown on its own.

    Args:
        text: the message text; empty text gives no chunks.
        limit: the platform's limit (Discord: 2,000 characters a message; Slack: 3,000 a section).

    Returns:
        The chunks, each non-empty and ``<= limit`` characters.
    """
    if limit < 40:
        raise ValueError("limit too small to split around code fences")
    chunks: list[str] = []
    rest = text
    reopen = ""  # the fence line (with language) to re-open in the next chunk
    while rest:
        body = reopen + rest
        if len(body) <= limit:
            chunks.append(body)
            break
        # Reserve room for a closing fence in case the cut lands inside a code block.
        fenced = bool(reopen) or _FENCE in rest[:limit]
        budget = limit - len(reopen) - (len("\n" + _FENCE) if fenced else 0)
        cut = _best_cut(rest, budget)
        opened = _open_block(reopen + rest, len(reopen) + cut)
        opener = opened[0] - len(reopen) if opened is not None else -1  # where in ``rest``
        if opener > budget // 4 and "\n" not in rest[opener:cut]:
            # A hard cut on the line that opens a block (a long one-line blob after ```): cut before
            # the fence instead, so the opening line is never split from its fence.
            cut, opened = opener, None
        piece = rest[:cut]
        fence = opened[1] if opened is not None else None
        chunk = reopen + piece.rstrip("\n")
        if fence is not None:
            chunk += "\n" + _FENCE
            reopen = fence + "\n"
        else:
            reopen = ""
        if chunk.strip():
            chunks.append(chunk)
        rest = rest[cut:].lstrip("\n") if fence is None else rest[cut:]
        if fence is not None and rest.startswith("\n"):
            rest = rest[1:]
    return chunks


def _best_cut(text: str, budget: int) -> int:
    """Index at which to cut ``text`` so the head fits ``budget``: paragraph > line > space > hard,
    never inside a link or mention (then before it)."""
    window = text[:budget]
    spans = [m.span() for m in _UNBREAKABLE.finditer(text, 0, budget + _SPAN_LOOKAHEAD)]

    def span_around(cut: int) -> tuple[int, int] | None:
        return next(((start, end) for start, end in spans if start < cut < end), None)

    for sep in ("\n\n", "\n", " "):
        end = len(window)
        while (at := window.rfind(sep, 0, end)) > budget // 4:
            span = span_around(at + len(sep))
            if span is None:
                return at + len(sep)
            end = span[0]  # look again before the link
    span = span_around(budget)
    if span is not None and span[0] > budget // 4:
        return span[0]
    return budget


def _open_block(text: str, end: int) -> tuple[int, str] | None:
    """Where the code block still open at ``text[:end]`` was opened and the fence that re-opens it
    (```` ``` ```` plus its language tag), else ``None``.

    Every ```` ``` ```` toggles, wherever it stands: a one-line block (```` ```pip install x``` ````)
    opens and closes on the same line. Only the tag is re-opened, never the rest of the opening
    line, so a chunk's overhead stays a few characters however long that line is. A word is a tag
    only when a newline follows it in ``text``: a cut a few characters after ```` ``` ```` (a long
    line with no space to cut at) leaves a fragment of the line there, which is code, not a tag.
    """
    block: tuple[int, str] | None = None
    at = text.find(_FENCE, 0, end)
    while at != -1:
        if block is None:
            tag = _LANGUAGE_TAG.match(text, at + len(_FENCE), end)
            is_tag = tag is not None and text[tag.end() : tag.end() + 1] == "\n"
            block = (at, _FENCE + (tag.group(0) if tag is not None and is_tag else ""))
        else:
            block = None
        at = text.find(_FENCE, at + len(_FENCE), end)
    return block
