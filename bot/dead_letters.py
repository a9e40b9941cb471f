"""What the Redis bus's dead letters keep of a failure, and how ``/forget-me`` scrubs them.

A dead letter (:meth:`bot.bus_redis.RedisStreamsBus._dead_letter`) keeps the failed event and an
``error`` text for operators. ``repr(exc)`` is no such text: an exception raised while handling a
member's message often quotes it (``ValueError(f"cannot parse {text!r}")``), and a driver error
quotes the statement's parameters, names and ids included. So the error is written as
:func:`describe_failure` puts it: the exception's type, where it was raised, and its message with
the event's personal strings (see :func:`personal_strings`) and any secret masked.

Matching is by words, not by whole strings, so that a message quoting only part of a text (``text[:80]``,
a line of it) is masked too: a string of up to :data:`GRAM` words is masked wherever those words
appear in a row, a longer one wherever any :data:`GRAM` of its words do. Words are compared
case-folded, in composed form, with Han and kana one character to a word (:mod:`bot.words`). Limits:
a quote of fewer than :data:`GRAM` words of a longer text, and the piece of a word that a quote cut
in two, are not found.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import sysconfig
import traceback
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote

from bot.events import Event, UserRef
from bot.privacy.redact import redact as redact_secrets
from bot.words import UNSPACED, WORD, nfc

REDACTED = "[redacted]"
"""What stands in a dead letter's error for the words it no longer shows."""

GRAM = 3
"""Words in a row that count as a quote of a longer text."""

Gram = tuple[str, ...]

# Fields naming no one: platform ids of places and messages, enum-like tags. Every other string an
# event holds (texts, titles, names, member ids, urls, option values, tokens...) is masked, so a
# field added later is masked until someone decides it names no one.
_STRUCTURAL = frozenset(
    {
        "platform",
        "adapter",
        "workspace_id",
        "workspace_ids",
        "channel_id",
        "parent_id",
        "message_id",
        "accepted_message_id",
        "thread_id",
        "reply_to",
        "interaction_id",
        "action_id",
        "visibility",
        "source",
        "subtype",
        "kind",
        "style",
        "emoji",
        "content_type",
        "role_ids",
        "author_role_ids",
        "allowed_role_ids",
        "denied_role_ids",
        "override_role_ids",
    }
)
# One word shorter than this is not masked on its own ("ok", "a"): it names no one, and masking
# every "a" of a message would leave operators nothing to read.
_MIN_LONE_WORD = 3
# Characters of an exception's message looked at: the dead letter keeps 2,000 bytes of the error.
_MESSAGE_CHARS = 8000
# Exceptions of a chain shown in a failure report (a cycle or a long chain stops there).
_MAX_CHAIN = 8
# A word, or (group 1, skipped) an escape sequence of a repr or JSON: quoted with repr(), "line\nnext"
# must give the words "line" and "next", not "nnext".
_TOKEN = re.compile(
    r"(\\(?:[\\'\"abfnrtv/]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}))"
    rf"|[{UNSPACED}]|(?:(?![{UNSPACED}]){WORD})"
)
# A percent-escape of a URL ("%20", "%2C"): text holding one is also matched decoded.
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_ROOT = Path(__file__).resolve().parents[1]
_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
_LIBRARY_DIRS = ("site-packages", "dist-packages")


def describe_failure(exc: BaseException, event: Event | None = None) -> str:
    """The error a dead letter keeps for ``exc``, raised while handling ``event``.

    ``"<type> at <file>:<line> in <function>: <message>"``: the type (module-qualified unless a
    builtin); the innermost frame of the traceback, and, when that lies in a library, our own
    innermost frame that led there (``via ...``); the cause's type, if any; and the message with
    ``event``'s :func:`personal_strings` and any secret (:mod:`bot.privacy.redact`) masked, on one line.
    """
    out = _type_name(exc)
    where = _location(exc)
    if where:
        out += f" at {where}"
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if cause is not None:
        out += f" (from {_type_name(cause)})"
    try:
        message = str(exc)[:_MESSAGE_CHARS]
    except Exception:  # noqa: BLE001 - a broken __str__ must not keep the event out of the dead letters
        message = "(the message could not be read)"
    if event is not None:
        message = redact(message, grams_of(personal_strings(event)))
    message = " ".join(redact_secrets(message).split())
    return f"{out}: {message}" if message else out


def failure_report(exc: BaseException, event: Event | None = None) -> str:
    """What the bus logs when a handler fails: :func:`describe_failure` of ``exc`` and of each
    exception it chains from (``from``, or raised while handling), each followed by its frames.

    Not ``exc_info``: a traceback's last line is ``str(exc)``, which may quote the member's message,
    and logs are outside ``/forget-me``. The frames show file, line, function and source line, never
    a local value, so they are kept whole for debugging.
    """
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain) and len(chain) < _MAX_CHAIN:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts: list[str] = []
    for depth, link in enumerate(reversed(chain)):
        if depth:
            parts.append("which led to:")
        parts.append(describe_failure(link, event))
        parts.extend(line.rstrip("\n") for line in traceback.format_tb(link.__traceback__))
    return "\n".join(parts)


def personal_strings(event: Event) -> list[str]:
    """Every string ``event`` holds but the structural ones (ids of places and messages, tags):
    texts, titles, names, member ids, urls, option values. What a dead letter's error must not quote."""
    return [s for s in _strings(event, None) if s]


def member_strings(event: Event, user: UserRef) -> list[str]:
    """What of ``user`` an event about them holds that another dead letter's error may quote: their
    id and name, and the texts and titles it carries (their message, their command's arguments,
    what the bot sent them)."""
    found = [user.user_id, user.name]
    _member_walk(event, user, found)
    return [s for s in found if s]


def grams_of(strings: Iterable[str]) -> set[Gram]:
    """The word runs whose appearance counts as a quote of one of ``strings``: each whole string of
    up to :data:`GRAM` words (a single word only from :data:`_MIN_LONE_WORD` characters), and each
    :data:`GRAM` words in a row of a longer one; each also as ``repr()`` and JSON quote it."""
    grams: set[Gram] = set()
    for text in strings:
        for form in _quoted_forms(text):
            words = [w for _, _, w in _tokens(form)]
            if len(words) > GRAM:
                grams.update(tuple(words[i : i + GRAM]) for i in range(len(words) - GRAM + 1))
            elif len(words) > 1 or (words and len(words[0]) >= _MIN_LONE_WORD):
                grams.add(tuple(words))
    return grams


def redact(text: str, grams: Collection[Gram]) -> str:
    """``text`` with every run of words in ``grams`` replaced by :data:`REDACTED` (runs that
    overlap, as the grams of one long quote do, become one).

    Text with percent-escapes (an HTTP client's error naming the request's URL, whose query string
    may hold the member's words) is matched decoded, and comes back decoded where something was
    masked; unchanged otherwise. Decoding the text, not adding the URL form of every gram, keeps
    ``grams_of`` as small as before (a /forget-me scrubs with the grams of all the member's events).
    """
    if not grams:
        return text
    text = nfc(text)
    if _PERCENT_ESCAPE.search(text):
        decoded = nfc(unquote(text))
        masked = _mask(decoded, grams)
        return masked if masked != decoded else text
    return _mask(text, grams)


def _mask(text: str, grams: Collection[Gram]) -> str:
    """:func:`redact` of text already in composed form, as it reads."""
    tokens = list(_tokens(text))
    words = [w for _, _, w in tokens]
    spans: list[list[int]] = []
    for i in range(len(tokens)):
        for n in range(GRAM, 0, -1):
            if i + n <= len(tokens) and tuple(words[i : i + n]) in grams:
                start, end = tokens[i][0], tokens[i + n - 1][1]
                if spans and start < spans[-1][1]:
                    spans[-1][1] = max(spans[-1][1], end)
                else:
                    spans.append([start, end])
                break
    out: list[str] = []
    pos = 0
    for start, end in spans:
        out += [text[pos:start], REDACTED]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _tokens(text: str) -> Iterator[tuple[int, int, str]]:
    for m in _TOKEN.finditer(nfc(text)):
        if m.group(1) is None:
            yield m.start(), m.end(), m.group().casefold()


def _quoted_forms(text: str) -> set[str]:
    """``text`` as it is and as ``repr()`` and ASCII JSON quote it (escapes change its words:
    ``C:\\new`` is "c", "new" in a repr but "c", "ew" as written)."""
    return {text, repr(text)[1:-1], json.dumps(text)[1:-1]}


def _strings(value: object, name: str | None) -> Iterator[str]:
    if name in _STRUCTURAL or isinstance(value, enum.Enum):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _strings(item, name)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _strings(getattr(value, f.name), f.name)


def _member_walk(value: object, user: UserRef, found: list[str]) -> None:
    if isinstance(value, UserRef):
        if value.user_id == user.user_id:
            found.append(value.name)
        return
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if f.name in ("text", "title") and isinstance(item, str):
            found.append(item)
        elif f.name == "options" and isinstance(item, tuple):
            found += [v for _, v in item]  # a command's arguments: the member's words
        elif isinstance(item, tuple):
            for part in item:
                _member_walk(part, user, found)
        else:
            _member_walk(item, user, found)


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _location(exc: BaseException) -> str:
    """``file:line in function`` of the innermost frame, and of our own innermost when that is a
    library's."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    where = _frame(last)
    if _is_library(last.filename):
        ours = next((f for f in reversed(frames) if not _is_library(f.filename)), None)
        if ours is not None:
            where += f" via {_frame(ours)}"
    return where


def _frame(frame: traceback.FrameSummary) -> str:
    return f"{_short_path(frame.filename)}:{frame.lineno} in {frame.name}"


def _is_library(filename: str) -> bool:
    path = Path(filename)
    return any(part in _LIBRARY_DIRS for part in path.parts) or path.is_relative_to(_STDLIB)


def _short_path(filename: str) -> str:
    """A frame's file as an operator reads it: from the package root (``bot/bus.py``,
    ``redis/client.py``), not the machine's absolute path."""
    path = Path(filename)
    parts = path.parts
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in _LIBRARY_DIRS:
            return "/".join(parts[i + 1 :])
    for root in (_ROOT, _STDLIB):
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.name
