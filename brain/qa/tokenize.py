"""Technical tokenization for lexical search: identifiers survive, prose is normalised.

``asyncio.gather`` yields ``asyncio.gather``, ``asyncio`` and ``gather``; ``ERR_CONNECTION_REFUSED``
stays one token (plus its parts); ``poetry lock`` is two ordinary words. Exact compound tokens let a
query with an error code or a dotted name hit precisely, while the parts keep partial matches.
"""

from __future__ import annotations

import re
from itertools import pairwise

from bot.words import UNSPACED, WORD, nfc, unspaced_pairs

# A word, optionally joined to more words by '.', '_', '-', '/' or '::' (dotted names, paths, codes).
_TOKEN = re.compile(r"[a-z0-9_]+(?:(?:\.|::|-|/)[a-z0-9_]+)*")
_PARTS = re.compile(r"[a-z0-9]+")

# Function words that carry no topic; kept short on purpose (technical words like "not" stay).
_STOPWORD_TEXT = """a an and are as at be been but by can could did do does doing for from had has have having he her
him his how i i'm if in into is it it's its just me my of on or our she so some than that the their
them then there these they this those to too was we were what when where which who why will with would
you your yours hi hello hey thanks thank please anyone someone any"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _stem(word: str) -> str:
    # A deliberately light stemmer (plural/verb endings) so "errors"/"error", "installing"/"install"
    # meet without mangling identifiers; only plain alphabetic words of some length are touched.
    # A plural stems as its singular does ("settings" as "setting", "databases" as "database"):
    # stemmed apart, each missed the other ("setting" became "sett", "settings" "setting").
    if not word.isalpha() or len(word) <= 4:
        return word
    if word.endswith("ies") and len(word) >= 6:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return _stem(word[:-2])  # classes, boxes, matches, pushes
    if word.endswith("s") and not word.endswith(("ss", "us")):  # "class", "status" are no plurals
        return _stem(word[:-1])  # "statuses" and "refuses" too: then the "e" goes (below)
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            # "stored", "closing": the "e" the base word keeps (below) comes back.
            return stem + "e" if _keeps_e(stem) else stem
    if word.endswith("e") and not _keeps_e(word[:-1]):
        # "cache" / "cached" / "caches" meet, "delete" / "deleted", "release" / "released" too.
        return word[:-1]
    return word


def _keeps_e(stem: str) -> bool:
    """Porter's rule for a final "e": kept after a short stem ending consonant-vowel-consonant
    ("state", "store", "close"), so "state" is not "stats"'s "stat" nor "plane" "plan"."""
    if len(stem) < 3:
        return False
    c1, v, c2 = stem[-3], stem[-2], stem[-1]
    cvc = c1 not in _VOWELS and v in _VOWELS and c2 not in _VOWELS and c2 not in "wxy"
    # The measure: how many vowel-consonant transitions the stem has ("stat" 1, "delet" 2).
    measure = sum(1 for a, b in pairwise(stem) if a in _VOWELS and b not in _VOWELS)
    return cvc and measure == 1


_VOWELS = frozenset("aeiou")


# Words in other scripts ("ошибка", "für", "为什么"): the ASCII pattern above sees none of them, or
# only their ASCII fragments, so a community writing in Russian or Chinese had no lexical search, no
# topic bursts, and answers whose sentences could not be checked against the sources. Han and kana
# are written without spaces: their runs give overlapping character pairs, the usual lexical unit
# for them. English text is unchanged (these tokens come only from words with non-ASCII letters).
# A word runs on through combining marks (:mod:`bot.words`): Hindi "सर्वर" was "सर" + "वर".
_WORD = re.compile(WORD)
_UNSPACED_RUN = re.compile(f"([{UNSPACED}]+)")


def _other_script_tokens(lowered: str) -> list[str]:
    out: list[str] = []
    for word in _WORD.findall(lowered):
        if word.isascii():
            continue
        for k, run in enumerate(_UNSPACED_RUN.split(word)):
            if k % 2:  # a run of Han / kana
                out.extend(unspaced_pairs(run))
            elif run and not run.isascii() and len(run) > 1:
                out.append(run)
    return out


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` for BM25 (lower-cased, stop words dropped, compounds plus their parts;
    words of other scripts as they are, Han and kana as character pairs)."""
    out: list[str] = []
    lowered = nfc(text).lower()
    for match in _TOKEN.findall(lowered):
        parts = _PARTS.findall(match)
        if len(parts) > 1:
            out.append(match)
            out.extend(_stem(p) for p in parts if p not in STOPWORDS and len(p) > 1)
        elif match not in STOPWORDS and (len(match) > 1 or match.isdigit()):
            out.append(_stem(match))
    if not lowered.isascii():
        out.extend(_other_script_tokens(lowered))
    return out
