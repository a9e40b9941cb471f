"""Sentence-level verification of a draft answer against the retrieved units.

Each sentence is *supported* when enough of its content words occur in one unit (token overlap)
or its embedding is close enough to that unit's (semantic paraphrase). Unsupported sentences are
dropped; when too little of the draft survives, the caller abstains. Sentences too short to judge
("Sure!") are neither counted nor kept on their own. Thresholds are measured in
``benchmarks/qa_grounding.py`` (sentences of the answering unit vs. sentences of unrelated units).

A sentence that loops or strings stopwords together (:func:`degenerate`) is unsupported too.

Similarity cannot tell "use `asyncio.timeout()`" from "use `asyncio.sleep_until()`": both are on
topic. So a sentence that names a code identifier (a dotted or snake_case name, a call, a flag, a
file or host name, a path, or anything set in a code span) none of the shown sources contains is
unsupported whatever its similarity: a small model invents exactly those.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.ml import Embedder, ScoredUnit
from brain.qa.tokenize import tokenize

# Sentence ends: . ! ? followed by space, or line breaks (chat answers are often lists).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\[`*_\"'(])|\n+")
_CITATION = re.compile(r"\[(\d{1,2})\]")

# Code-like names: dotted (asyncio.timeout, requirements.txt, example.com), snake_case, calls
# (run()), --flags. Each part of a dotted name has two or more characters, so "e.g." is prose.
_IDENTIFIER = re.compile(
    r"(?<![\w.-])(?:[A-Za-z_]\w+(?:(?:\.|::)[A-Za-z_]\w+)+|[A-Za-z]\w*_\w+|[A-Za-z_]\w*(?=\(\))|--[a-z][\w-]+)"
)

_PATH = re.compile(r"(?<![\w/.:-])(?:/[\w.-]+){2,}/?")  # /api/v2/app, not a lone /help or a URL's tail
_CODE_SPAN = re.compile(r"`([^`\n]+)`")

MIN_TOKENS = 3

# A small model that has lost its way loops ("a community bot for X, a community bot for Y, and a
# community bot for X") or strings stopwords together ("The is a reference to the and and and").
# Such a sentence reads as supported (its few content words are all in the sources) and too short
# to judge, so it is found by shape instead. On the 104k sentences of the four real chat exports
# these rules flag 0.1%, nearly all pasted code, logs and tables, which is not how an answer reads.
_WORD = re.compile(r"\w+")
_REPEATED_WORD = re.compile(r"\b([A-Za-z]{2,})(?:\W+\1\b){3,}", re.IGNORECASE)  # "and and and and"
_CODE_MARK = re.compile(r"[`()\[\]=<>{}]")
OVERLAP_THRESHOLD = 0.6
SIMILARITY_THRESHOLD = 0.6


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    """The verdict on one sentence of the draft."""

    text: str
    cited: tuple[int, ...]  # source numbers the model wrote, 1-based
    best_source: int  # 1-based source with most support, 0 if none
    overlap: float
    similarity: float
    supported: bool
    judged: bool  # False for sentences too short to judge


@dataclass(frozen=True, slots=True)
class GroundingResult:
    """All sentence verdicts and the share of judged sentences that are supported."""

    sentences: tuple[SentenceCheck, ...]
    support: float

    @property
    def kept(self) -> list[SentenceCheck]:
        """Supported sentences (short unjudged ones kept only next to a supported one; questions never)."""
        if not any(s.supported for s in self.sentences):
            return []
        return [s for s in self.sentences if s.supported or (not s.judged and not is_question(s.text))]


def split_sentences(text: str) -> list[str]:
    """Sentences of a chat answer (also split at line breaks), stripped, non-empty."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


_LIST_MARK = re.compile(r"^\s*(?:[-*•#]+|\d{1,2}[.)])\s*")
_FINISHED = (".", "!", "?", "]", "`", ")", ":")


def _sentence_key(sentence: str) -> str:
    """A sentence compared as content: no list marker, citation marks, case or end punctuation."""
    body = _LIST_MARK.sub("", _CITATION.sub("", sentence)).lower().strip().rstrip(".!?:").strip()
    return " ".join(body.split())


def unique_sentences(sentences: Sequence[str]) -> list[str]:
    """``sentences`` without repeats, without list items they already said, and without bare list
    markers ("2.").

    Small models loop ("4. Paste the manifest [1]. 5. Paste the manifest [1]. ..."), also inside
    one sentence ("your messages, your reactions, and your messages [1]."); a repeat adds nothing
    for the reader and must not inflate the share of supported sentences either.
    """
    seen: set[str] = set()
    unique = []
    for sentence in sentences:
        # Within a sentence only: steps legitimately recur across sentences ("..., then restart it").
        sentence = without_repeated_items(sentence)
        key = _sentence_key(sentence)
        if not key or key in seen:
            continue
        seen.add(key)
        unique.append(sentence)
    return unique


# A list item this long (words) is a statement worth saying once; shorter ones ("and so on",
# "for example") legitimately recur.
_MIN_ITEM_WORDS = 4
_CONJUNCTION = re.compile(r"^([,;]?\s*)(and|or)\s+", re.IGNORECASE)
_SEPARATOR = re.compile(r"^[,;]")
_ITEM_TAIL = re.compile(r"(?:\s*\[\d{1,2}\])*\s*[.!?:]*\s*$")


def list_items(sentence: str) -> list[str]:
    """``sentence`` cut before each comma and semicolon outside brackets and code spans; every
    piece after the first starts with its separator, so ``"".join`` gives the sentence back."""
    items: list[str] = []
    depth, code, start = 0, False, 0
    for i, ch in enumerate(sentence):
        if ch == "`":
            code = not code
        elif code:
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch in ",;" and depth == 0:
            items.append(sentence[start:i])
            start = i
    items.append(sentence[start:])
    return items


def without_repeated_items(sentence: str) -> str:
    """``sentence`` without list items (of :data:`_MIN_ITEM_WORDS` words or more) it already said.
    A dropped last item hands its citations and end punctuation, and its "and", to the item now
    last."""
    items = list_items(sentence)
    if len(items) < 2:
        return sentence
    said: set[str] = set()
    kept: list[str] = []
    last_dropped = False
    for item in items:
        key = _sentence_key(_SEPARATOR.sub("", _CONJUNCTION.sub("", item)))
        last_dropped = len(key.split()) >= _MIN_ITEM_WORDS and key in said
        if not last_dropped:
            said.add(key)
            kept.append(item)
    if len(kept) == len(items):
        return sentence
    if last_dropped:
        final = items[-1]
        tail = final[_tail_start(final) :]
        end = kept[-1][: _tail_start(kept[-1].rstrip())]
        conjunction = _CONJUNCTION.match(final)
        if conjunction and len(kept) > 1 and not _CONJUNCTION.match(end):
            separator = _SEPARATOR.match(end)
            body = _SEPARATOR.sub("", end).lstrip()
            end = f"{separator.group(0) if separator else ''} {conjunction.group(2)} {body}"
        kept[-1] = end + tail
    return "".join(kept)


def _tail_start(text: str) -> int:
    """Where ``text``'s trailing citation marks and end punctuation begin (its length if none)."""
    found = _ITEM_TAIL.search(text)
    return found.start() if found else len(text)


def drop_unfinished_tail(text: str) -> str:
    """``text`` without a last sentence cut off mid-way (the model hit its token limit)."""
    parts = split_sentences(text)
    if len(parts) < 2 or _finished(parts[-1]):
        return text
    drop = 1  # the fragment, and the bare list marker ("5.") that may open it
    while drop < len(parts) - 1 and not _sentence_key(parts[-1 - drop]):
        drop += 1
    cut = len(text)
    for part in reversed(parts[-drop:]):
        cut = text.rfind(part, 0, cut)
    return text[:cut].rstrip()


def _finished(sentence: str) -> bool:
    # A closing mark only ends a sentence outside a code span: "Paste the manifest from `" ends in a
    # backtick that opens one, so the model was cut off inside it.
    return sentence.endswith(_FINISHED) and sentence.count("`") % 2 == 0


def code_names(text: str) -> list[str]:
    """Names that look like code wherever they stand: dotted or snake_case names, calls, flags,
    file and host names."""
    return _IDENTIFIER.findall(text)


def identifiers(text: str) -> list[str]:
    """What a sentence names as code: :func:`code_names`, paths (``/api/v2/apps``) and whatever it
    sets in a code span (`` `pip install -U x` ``). Code the sources do not contain is code the
    model made up."""
    spans = [s.strip() for s in _CODE_SPAN.findall(text)]
    return code_names(text) + _PATH.findall(text) + [s for s in spans if len(s) >= 3]


def is_question(sentence: str) -> bool:
    """Whether a sentence asks rather than answers (the model echoing a source's question, or the
    member's): never support for an answer, and never kept in one."""
    return _CITATION.sub("", sentence).rstrip(" *_`\"')]").endswith("?")


def degenerate(sentence: str) -> bool:
    """Whether a sentence is a generation loop or word salad rather than a statement (see above)."""
    if _REPEATED_WORD.search(sentence):
        return True
    tokens = tokenize(sentence)
    if sentence.isascii() and len(_WORD.findall(sentence)) >= 10 and len(set(tokens)) <= 1:
        return True
    # Content words mostly repeated (at most half distinct), outside code, which repeats by nature.
    return len(tokens) >= 6 and len(set(tokens)) <= len(tokens) / 2 and not _CODE_MARK.search(sentence)


def cited_numbers(sentence: str) -> tuple[int, ...]:
    """Source numbers cited as ``[n]`` in a sentence."""
    return tuple(int(n) for n in _CITATION.findall(sentence))


def check(
    draft: str,
    units: Sequence[ScoredUnit],
    embedder: Embedder,
    *,
    overlap_threshold: float = OVERLAP_THRESHOLD,
    similarity_threshold: float = SIMILARITY_THRESHOLD,
    texts: Sequence[str] | None = None,
    known_identifiers: bool = True,
) -> GroundingResult:
    """Verify every sentence of ``draft`` against ``units`` (source n = ``units[n-1]``).

    ``texts`` is what the model was shown of each unit (cut to the prompt's budget); a sentence is
    only supported by text the model actually saw. Without it, the units' full text is used.
    ``known_identifiers`` makes a sentence naming a code identifier no source contains unsupported
    (off only to measure what the rule adds).
    """
    sentences = unique_sentences(split_sentences(draft))
    if not sentences or not units:
        return GroundingResult(tuple(), 0.0)
    shown = [u.unit.text for u in units] if texts is None else list(texts)
    if len(shown) != len(units):
        raise ValueError(f"{len(shown)} texts for {len(units)} units")
    plain = [_CITATION.sub("", s).strip() for s in sentences]
    unit_tokens = [set(tokenize(t)) for t in shown]
    shown_lower = "\n".join(shown).lower()
    # Two calls, not one: a batch is padded to its longest text, and sentences are a tenth of a
    # source's length (one batch of 6 sources + 5 sentences took 0.48 s on 2 cores, two took 0.29 s).
    unit_vecs, sent_vecs = embedder.embed(shown), embedder.embed(plain)
    sims = np.asarray(sent_vecs @ unit_vecs.T, dtype=np.float32)
    checks = []
    for i, (raw, text) in enumerate(zip(sentences, plain, strict=True)):
        tokens = set(tokenize(text))
        overlaps = [len(tokens & ut) / len(tokens) if tokens else 0.0 for ut in unit_tokens]
        best = int(np.argmax(np.asarray(overlaps) + sims[i]))
        overlap, similarity = max(overlaps), float(sims[i].max())
        invented = [name for name in identifiers(text) if name.lower() not in shown_lower]
        invented = invented if known_identifiers else []
        looping = degenerate(text)
        judged = (len(tokens) >= MIN_TOKENS or bool(invented) or looping) and not is_question(text)
        supported = (
            judged
            and not invented
            and not looping
            and (overlap >= overlap_threshold or similarity >= similarity_threshold)
        )
        checks.append(SentenceCheck(raw, cited_numbers(raw), best + 1, overlap, similarity, supported, judged))
    judged_checks = [c for c in checks if c.judged]
    support = sum(c.supported for c in judged_checks) / len(judged_checks) if judged_checks else 0.0
    return GroundingResult(tuple(checks), support)
