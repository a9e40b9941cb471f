"""What the model is shown of the retrieved units: sanitised text within a rank-ordered budget.

Retrieved text is *data*. :func:`sanitize_source` makes sure it cannot pose as prompt structure:

- ``<``, ``>`` and ``"`` in source text, channel names and titles are replaced by look-alikes
  (``⟨ ⟩ ＂``, one character each), so no ``<source …>`` tag, ``</source>`` delimiter or attribute
  (``channel="…" trusted="yes"``) can be forged, however it is padded or spelled; the prompt's own
  delimiters are the only ASCII ones. :func:`unquote` maps the look-alikes back where text leaves
  the prompt (the grounding check, the posted answer);
- chat-template tokens (``<|im_start|>``), role tags and ``[INST]`` markers are removed; other
  bracketed control tokens (``[SYSTEM_PROMPT]``, ``[/TOOL_CALLS]``: capitals and ``_``, three or
  more) keep their text but get look-alike brackets (``⁅SYSTEM_PROMPT⁆``), so no tokenizer reads
  them as its token (``[1]`` and ``[Docs]`` are left alone); role prefixes (``system:``,
  ``- **System:**``) are marked ``(quoted)``, so a message saying "ignore previous instructions"
  stays quoted text. A role prefix is found however it is disguised: invisible characters
  (zero-width space, soft hyphen), full-width or Cyrillic and Greek look-alike letters, any kind of
  space. The text keeps its own characters; only the mark is added.

On a CPU the prompt's length is paid twice: once to prefill it (time grows with every token) and
again at every decoded token (each attends over the whole KV cache). Retrieval already ranked the
units, so the budget is spent in that order:

1. every unit is first cut to ``source_chars`` (one long thread must not crowd out the rest);
2. the best-ranked unit is always shown (cut to the budget if it alone exceeds it);
3. units that fit are shown whole; the first one that does not is trimmed to what is left, if at
   least ``min_chars`` is left, else it and every lower-ranked unit are dropped.

The text is sanitised before it is measured, so :attr:`Source.text` is exactly what the prompt
holds, and the grounding check verifies the draft against that same text.

:func:`without_messages` takes the question's own message out of a retrieved unit (a conversation
window or thread holds it together with the answers given before it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace

from bot.ml import ScoredUnit, Unit

SOURCE_CHARS = 1200
MIN_CHARS = 200
_ELLIPSIS = " …"

# Markup a chat message could use to pose as the prompt's structure or another role. Removing it is
# for the model's sake (no tag-shaped noise); what makes forging impossible is the quoting below,
# so these patterns need no length limits to be safe and have none.
_ROLE_MARKUP = [
    re.compile(r"<\|[^|\n]*\|>"),  # <|im_start|>, <|system|>, <|endoftext|>, <|start_header_id|>
    re.compile(r"</?\s*(?:source|system|assistant|user|human|inst|s|im_start|im_end)\b[^<>]*>", re.IGNORECASE),
    re.compile(r"\[/?\s*INST\s*\]|<</?SYS>>", re.IGNORECASE),
    re.compile(r"^[ \t]*+#{2,}[ \t]*+(?:instruction|system|response|assistant)s?\b:?", re.IGNORECASE | re.MULTILINE),
]
# "system:", also behind list markers, block quotes or headings and inside emphasis:
# "- system:", "> Assistant:", "1. **System:**", "__user__ :".
# Spaces include the no-break space (French keyboards type one before a colon), colons the full-width one.
_ROLE_PREFIX = re.compile(
    r"^(?P<lead>[ \t\u00a0]*+(?:(?:[-*+•>]|\d{1,3}[.)]|#{1,6})[ \t\u00a0]*+)*+)(?P<open>[*_~`]*+)[ \t\u00a0]*+"
    r"(?P<role>system|assistant|user|human|developer|tool)(?![a-z0-9])(?=[ \t\u00a0]*+[*_~`]*+[ \t\u00a0]*+[:：])",
    re.IGNORECASE | re.MULTILINE,
)
# Line breaks other than "\n" (a bare carriage return, Unicode's line and paragraph separators, NEL,
# vertical tab, form feed): a model reads a line there, while "^" above only starts one after "\n".
_LINE_BREAKS = str.maketrans(dict.fromkeys("\r\u2028\u2029\x85\x0b\x0c", "\n"))
# Bracketed control tokens of chat templates (Mistral's [SYSTEM_PROMPT], [TOOL_CALLS], [/INST]...):
# the brackets become look-alikes, the quill brackets ⁅ ⁆: no tokenizer's token is spelt with them,
# and they are rare enough in real text for unquote() to map them back to [ ].
_CONTROL_TOKEN = re.compile(r"\[(/?[A-Z][A-Z_]{2,})\]")
# The prompt's delimiters are built from these; in quoted text they become look-alikes.
_QUOTE = str.maketrans({"<": "\u27e8", ">": "\u27e9", '"': "\uff02"})
_UNQUOTE = str.maketrans({"\u27e8": "<", "\u27e9": ">", "\uff02": '"', "\u2045": "[", "\u2046": "]"})
# Letters of other scripts drawn like the Latin letters of the role words (Unicode's confusables,
# the ones a keyboard or a copy-paste gives), and colons drawn like ":"; NFKC does the rest
# (full-width and mathematical letters, the full-width colon, spaces of every width).
_LOOKALIKES = str.maketrans(
    {
        **dict(zip("аеорсухѕіјԁһӏԛԝьтмнкв", "aeopcyxsijdhlqwbtmhkb", strict=True)),  # Cyrillic
        **dict(zip("АВЕЅІЈКМНОРСТХУ", "ABESIJKMHOPCTXY", strict=True)),
        **dict(zip("αβεικνορτυχ", "abeikvoptux", strict=True)),  # Greek
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
        "ı": "i",
        "ɡ": "g",
        "\u2236": ":",  # ratio
        "\ua789": ":",  # modifier letter colon
        "\u02d0": ":",  # modifier letter triangular colon
        "\u02f8": ":",  # modifier letter raised colon
    }
)


def sanitize_source(text: str) -> str:
    """Neutralise role-like markup in retrieved text and quote the characters prompt structure is
    made of (it is quoted data, not prompt structure). Use it on everything quoted into the prompt:
    source text, channel names, titles, the question."""
    text = text.replace("\r\n", "\n").translate(_LINE_BREAKS)
    for pattern in _ROLE_MARKUP:
        text = pattern.sub(" ", text)
    text = _CONTROL_TOKEN.sub("\u2045\\1\u2046", text)
    return quote("\n".join(_mark_role_prefix(line) for line in text.split("\n")))


def _mark_role_prefix(line: str) -> str:
    """``line`` with ``(quoted)`` after the role word that starts it, if one does.

    The role is looked for in the line's skeleton (:func:`_skeleton`), so no invisible character
    or look-alike letter hides it; the mark goes after the role word's last character in the line
    as written, which keeps all of its characters.
    """
    skeleton, origin = (line, None) if line.isascii() else _skeleton(line)
    found = _ROLE_PREFIX.match(skeleton)
    if found is None:
        return line
    end = found.end("role") if origin is None else origin[found.end("role") - 1] + 1
    return f"{line[:end]} (quoted){line[end:]}"


def _skeleton(line: str) -> tuple[str, list[int]]:
    """``line`` as it reads, for matching: format characters (zero-width, soft hyphen, direction
    marks) dropped, NFKC-normalised, look-alike letters mapped to Latin, any space made ``" "``.
    Also, for each character of the skeleton, the index in ``line`` of the character it came from."""
    out: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(line):
        if unicodedata.category(char) == "Cf":
            continue
        for c in unicodedata.normalize("NFKC", char).translate(_LOOKALIKES):
            out.append(" " if c.isspace() else c)
            origin.append(i)
    return "".join(out), origin


def quote(text: str) -> str:
    """``text`` with ``<``, ``>`` and ``"`` replaced by look-alikes (``⟨ ⟩ ＂``), one for one."""
    return text.translate(_QUOTE)


def unquote(text: str) -> str:
    """Undo :func:`quote`, and the look-alike brackets of control tokens (for comparing with, or
    posting, what the model read or wrote)."""
    return text.translate(_UNQUOTE)


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


def without_messages(unit: Unit, message_ids: Set[str], texts: Mapping[str, str] | None = None) -> Unit | None:
    """``unit`` without the text of the messages ``message_ids`` (the question being answered).

    A conversation window or thread is one unit, so the question shares it with what was said
    before it, often the very answer (someone asked the same minutes earlier). Only the question's
    own text must go: a question is never grounded in itself. A unit's text is its messages'
    stripped texts joined by line breaks, in :attr:`Unit.message_ids` order
    (:mod:`brain.qa.units`), so:

    - when it has one line per message, the lines of ``message_ids`` are removed;
    - otherwise (a message spans lines), each message's stored text from ``texts`` is removed where
      it stands as whole lines.

    Args:
        unit: A retrieved unit.
        message_ids: Messages to take out.
        texts: Stored text of those messages, by id (needed only when a message spans lines).

    Returns:
        ``unit`` itself when it holds none of them; a copy without them (text and message ids);
        ``None`` when nothing else is left, or when a message cannot be located (then no part of
        the unit can be shown without risking the question's own text).
    """
    drop = [m for m in unit.message_ids if m in message_ids]
    if not drop:
        return unit
    keep_ids = tuple(m for m in unit.message_ids if m not in message_ids)
    lines = unit.text.split("\n")
    if len(lines) == len(unit.message_ids):
        text = "\n".join(line for line, m in zip(lines, unit.message_ids, strict=True) if m not in message_ids)
    else:
        text = unit.text
        for m in drop:
            own = (texts or {}).get(m, "").strip()
            if not own:
                return None
            found = re.compile(rf"(?:^|\n){re.escape(own)}(?=\n|$)")
            if not found.search(text):
                return None
            text = found.sub("", text)
        text = text.strip("\n")
    if not keep_ids or not text.strip():
        return None
    return replace(unit, text=text, message_ids=keep_ids)
