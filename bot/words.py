"""Words of any script for regular expressions: letters joined by their combining marks.

Python's ``re`` takes ``\\w`` to be what :meth:`str.isalnum` accepts, and that leaves out the
combining marks (Unicode categories Mn and Mc): the vowel signs and viramas of Devanagari, Bengali
and Tamil, Arabic and Hebrew vowel points, and the accents of decomposed (NFD) text. A pattern built
on ``\\w`` cut "सर्वर" into "सर" and "वर", and a decomposed "für" into "fu" and "r". Patterns that
look for words let them run on through :data:`MARKS`, on text put in composed form by :func:`nfc`.
"""

from __future__ import annotations

import re
import unicodedata

# Variation selectors are category Mn too, but they pick an emoji's presentation ("❤️", "1️⃣"), they
# do not belong to a word: a keycap digit is no word.
_NOT_IN_WORDS = range(0xFE00, 0xFE10)
# Combining marks all lie in the first two planes, but for plane 14's variation selectors.
_LAST_SCANNED = 0x1FFFF


def _mark_ranges() -> str:
    """A character-class body (``\\u0300-\\u036f...``) of this Python's combining marks."""
    marks = [
        c for c in range(_LAST_SCANNED + 1) if c not in _NOT_IN_WORDS and unicodedata.category(chr(c)) in ("Mn", "Mc")
    ]
    ranges: list[tuple[int, int]] = []
    for c in marks:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    return "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges)


MARKS: str = _mark_ranges()
"""The combining marks (Mn, Mc; variation selectors excluded) as the body of a character class:
``rf"[\\w{MARKS}]"``. Built from :mod:`unicodedata`, the same Unicode version ``re`` uses."""

WORD: str = rf"[^\W_](?:[^\W_]|[{MARKS}])*"
"""A pattern for a word of letters and digits of any script, starting with one and running on
through combining marks (use on :func:`nfc` text)."""


UNSPACED: str = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
"""Han and kana, the scripts written without spaces, as the body of a character class: a run of
them is one regex word however long (a whole sentence), so the tokenizers cut it up."""


def unspaced_pairs(run: str) -> list[str]:
    """A run of Han or kana as overlapping character pairs, the usual lexical unit for them (a
    single character stays as it is)."""
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def nfc(text: str) -> str:
    """``text`` in composed form (NFC): a decomposed "ü" (``u`` + U+0308) becomes one character;
    marks that have no composed form stay, for :data:`MARKS` to keep them in their word."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)
