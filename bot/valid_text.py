"""Text every layer can store and send: lone UTF-16 surrogates replaced with U+FFFD.

Platform JSON may carry half an emoji (``"\\ud83d"`` with no low half); Python decodes it into a
``str`` that no UTF-8 encoder accepts, so SQLite, PostgreSQL, the Redis bus and the platforms' HTTP
clients all fail on it. Replacing it where events enter keeps the rest of the message.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Any, TypeVar

_SURROGATE = re.compile("[\ud800-\udfff]")
T = TypeVar("T")


def valid_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (the same object when there is none)."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


def storable_text(text: str) -> str:
    """``text`` as both stores keep it: NUL (which PostgreSQL refuses) and lone surrogates (which
    no encoder takes) become U+FFFD."""
    return valid_text(text.replace("\x00", "\ufffd") if "\x00" in text else text)


def with_valid_text(value: T) -> T:
    """``value`` (an event, or anything inside one) with :func:`valid_text` applied to every string
    in it; the same object when nothing changed, so the common case allocates nothing."""
    return _valid(value)  # type: ignore[no-any-return]


_INIT_FIELDS: dict[type, tuple[str, ...]] = {}


def _init_fields(cls: type) -> tuple[str, ...]:
    names = _INIT_FIELDS.get(cls)
    if names is None:
        names = _INIT_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return names


def _valid(value: Any) -> Any:
    # Called on every inbound event (an import publishes ~30k a second): the common case, plain
    # ASCII or valid text, must cost little more than reading each field once.
    cls = value.__class__
    if cls is str:
        return value if value.isascii() else valid_text(value)
    if hasattr(cls, "__dataclass_fields__"):
        changes = None
        for name in _init_fields(cls):
            old = getattr(value, name)
            kind = old.__class__
            if (kind is str and old.isascii()) or not _may_hold_text(kind):
                continue
            new = _valid(old)
            if new is not old:
                changes = changes or {}
                changes[name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if cls is tuple or cls is list:
        items = [_valid(v) for v in value]
        return cls(items) if any(n is not o for n, o in zip(items, value, strict=True)) else value
    if cls is dict:
        pairs = [(_valid(k), _valid(v)) for k, v in value.items()]
        changed = any(nk is not k or nv is not v for (nk, nv), (k, v) in zip(pairs, value.items(), strict=True))
        return dict(pairs) if changed else value
    return value


_HOLDS_TEXT: dict[type, bool] = {}


def _may_hold_text(cls: type) -> bool:
    """Whether values of ``cls`` can contain a ``str`` to check (not numbers, times, enums, None)."""
    known = _HOLDS_TEXT.get(cls)
    if known is None:
        known = _HOLDS_TEXT[cls] = cls in (str, tuple, list, dict) or hasattr(cls, "__dataclass_fields__")
    return known


# Characters that belong to the character before them: combining marks are found by category; these
# join emoji (ZWJ sequences, variation selectors, skin tones, tag sequences of flags) or pair up
# (regional indicators, counted separately).
_JOINERS = re.compile("[\u200d\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]")
_REGIONAL = re.compile("[\U0001f1e6-\U0001f1ff]")


def clip(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``limit`` characters with ``ellipsis`` at the end, never inside an
    emoji sequence, a flag or before a combining mark (a family emoji cut after its first person
    showed one person; a flag cut in half showed a lone letter). Trailing spaces before the
    ellipsis go too; text that fits is returned as is."""
    if len(text) <= limit:
        return text
    end = max(limit - len(ellipsis), 0)
    while 0 < end < len(text) and _continues(text, end):
        end -= 1
    return text[:end].rstrip() + ellipsis


def _continues(text: str, end: int) -> bool:
    """Whether cutting before ``text[end]`` would split a user-perceived character."""
    nxt, prev = text[end], text[end - 1]
    if unicodedata.combining(nxt) or _JOINERS.match(nxt) or prev == "\u200d":
        return True
    if _REGIONAL.match(nxt) and _REGIONAL.match(prev):
        # Flags are pairs: cut between pairs, counted from the start of the run.
        run = end
        while run > 0 and _REGIONAL.match(text[run - 1]):
            run -= 1
        return (end - run) % 2 == 1
    return False
