"""Sentence-level verification of a draft answer against the retrieved units.

Each sentence is *supported* when enough of its content words occur in one unit (token overlap)
or its embedding is close enough to that unit's (semantic paraphrase), and that same unit holds
every code identifier the sentence names (see below). Unsupported sentences are dropped; when too
little of the draft survives, the caller abstains. Sentences too short to judge ("Sure!") are
neither counted nor kept on their own: only right before or after a supported sentence of the same
paragraph. Thresholds are measured in ``benchmarks/qa_grounding.py`` (sentences of the answering
unit vs. sentences of unrelated units).

A sentence that loops, strings stopwords together or says its own clause twice ("X, but X", "X,
but not X": :func:`degenerate`) is unsupported too.

Similarity cannot tell "use `asyncio.timeout()`" from "use `asyncio.sleep_until()`": both are on
topic. So a sentence that names a code identifier (a dotted or snake_case name, a call, a flag, a
file or host name, a path, or anything set in a code span) is supported only by a source that is
close to it *and* contains every one of them, whatever its similarity: a small model invents exactly
those, or splices a name from one source into the words of another.

A fenced code block is one unit of the draft: never split, never given a citation mark inside, kept
or dropped whole. It is code the member will run, so it is held to the rule for code spans: each of
its lines that runs (not blank, not a comment, shell prompts cut) must occur in a shown source, as
the model cannot be trusted to adapt code it was not shown.

The draft's layout survives: each sentence remembers the whitespace before it (line breaks,
indentation), and a list marker at the start of a line stays with its item. Line breaks the model
copied from a doc's hard wrap are joined first (:func:`unwrap`): a wrap ends no sentence.

Citations: ``[1]``, ``[1, 2]``, ``[1-3]``, ``[^1]``, ``[source 1]`` and ``(source 2)`` are read
as source numbers (never inside code). :attr:`SentenceCheck.supporting` lists the sources that
support a sentence on their own, by the same test as the whole check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.ml import Embedder, ScoredUnit
from brain.qa.context import unquote
from brain.qa.tokenize import tokenize

# A citation mark as models write it: [1], [1, 2], [1-3], [^1], [source 1], (source 2), (sources 1 and 2),
# and the lenticular brackets some models were trained on: 【1】, 【1†source】.
_CITE_JOIN = r"\s*(?:,|;|&|\band\b|-|–|—)\s*"
_CITE_MARK = (
    r"\[\s*(?:(?:sources?|refs?)\s*:?\s*)?#?\^?\s*\d{1,2}(?:" + _CITE_JOIN + r"#?\^?\s*\d{1,2})*\s*\]"
    r"|\(\s*(?:see\s+)?(?:sources?|refs?)\s*:?\s*#?\d{1,2}(?:" + _CITE_JOIN + r"#?\d{1,2})*\s*\)"
    r"|【\s*\d{1,2}(?:" + _CITE_JOIN + r"\d{1,2})*\s*(?:†[^】\n]{0,80})?】"
)
# A name with an index glued to it (``rows[1]``, ``sys.argv[1]``, ``m[0][1]``): read as a citation
# when the model glues one to a word ("the token[1]"), so it is taken for code only where a source
# holds it as written (:func:`code_copied_indexes`).
_GLUED_INDEX = re.compile(r"(?<![A-Za-z0-9_`.])[A-Za-z_][A-Za-z0-9_.]*(?:\[\d{1,2}\])+")
# A web address: brackets in it (``?ids[0]=5``) are neither citations nor code to mark. ASCII only (a
# Chinese sentence runs on with no space after an address), and a bracket pair only before ``=`` or
# ``&`` (a query's): a citation glued to the address's end (``/docs[1].``) is not in it.
_URL = re.compile(r"https?://(?:[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]|\[\d{1,3}\](?=[=&]))+")
_CITATION = re.compile(_CITE_MARK, re.IGNORECASE)
# Sentence ends (line breaks end sentences too: chat answers are often lists); the group is the gap
# between the two sentences. After . ! ? a space, then what opens a sentence (:func:`_opens_sentence`:
# a lower-case word goes on, as in "e.g. with a flag"); Hindi's danda । (and double danda ॥) and the
# Arabic question mark ؟ are written the same way. Chinese and Japanese write no space after
# 。！？: those end a sentence before whatever follows but the closing quote or bracket and the
# citation marks that belong to it.
_SENTENCE_END = re.compile(
    r"[.!?।॥؟](\s+)(?=\S)"
    r"|[。！？]+(?:[ \t]*(?:" + _CITE_MARK + r"))*(\s*)(?=[^\s」』）】》〉”’\"')\]])",
    re.IGNORECASE,
)
# Besides a capital or a letter of a script without case (see _opens_sentence): digits and markup.
_OPENING_MARKS = frozenset("0123456789[`*_\"'(«„“¿¡")
_CITE_PARTS = re.compile(r"\d{1,2}|[-–—]")
_MAX_RANGE = 9  # [1-3] is a range of sources; [1-40] is not a citation anyone meant
# A fenced code block: ``` (or ~~~) and an info string, a line break, up to the closing fence, or to
# the end of the text when the model never closed it. Marks the model put after the closing fence go
# with the block.
_FENCE = re.compile(r"(?P<fence>```|~~~)[^\n`~]*\n.*?(?:(?P=fence)|\Z)", re.DOTALL)
_TRAILING_MARKS = re.compile(r"(?:[ \t]*(?:" + _CITE_MARK + r"))+", re.IGNORECASE)
_LINE = re.compile(r"[^\n]+")

# Code-like names: dotted (asyncio.timeout, requirements.txt, example.com), snake_case, calls
# (run()), --flags. Each part of a dotted name has two or more characters, so "e.g." is prose.
_IDENTIFIER = re.compile(
    r"(?<![\w.-])(?:[A-Za-z_]\w+(?:(?:\.|::)[A-Za-z_]\w+)+|[A-Za-z]\w*_\w+|[A-Za-z_]\w*(?=\(\))|--[a-z][\w-]+)"
)

_PATH = re.compile(r"(?<![\w/.:-])(?:/[\w.-]+){2,}/?")  # /api/v2/app, not a lone /help or a URL's tail
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
# Lines of a code block that do not run, and the prompts a shell or REPL line may start with.
_COMMENT = re.compile(r"^(?:#(?!!)(?=\s|$)|//|--(?=\s|$)|/\*|\*(?=\s|/|$))")
_PROMPT = re.compile(r"^(?:\$|%|>>>|\.\.\.|>)\s+")

MIN_TOKENS = 3

# A small model that has lost its way loops ("a community bot for X, a community bot for Y, and a
# community bot for X") or strings stopwords together ("The is a reference to the and and and").
# Such a sentence reads as supported (its few content words are all in the sources) and too short
# to judge, so it is found by shape instead. On the 104k sentences of the four real chat exports
# these rules flag 0.1%, nearly all pasted code, logs and tables, which is not how an answer reads.
_WORD = re.compile(r"\w+")
_REPEATED_WORD = re.compile(r"\b([A-Za-z]{2,})(?:\W+\1\b){3,}", re.IGNORECASE)  # "and and and and"
_CODE_MARK = re.compile(r"[`()\[\]=<>{}]")
# Words a short sentence may hold that no source does: courtesy, not claims ("Sure!", "Hope this
# helps!", "Good luck.", "¡Claro!", "Viel Erfolg!"), in the languages communities ask in most. As
# the tokenizer reduces them (English stop words like "thanks" are gone already). Not assent:
# "Yes." or "Exactly." before a supported step may answer what it does not say.
COURTESY_WORDS = frozenset(
    tokenize(
        " ".join(
            (
                "sure hope this helps good luck ok okay glad great happy welcome cheers also",
                "claro gracias de nada buena suerte espero que ayude saludos",
                "bien sûr merci beaucoup bonne chance j'espère que ça aide avec plaisir",
                "klar danke schön bitte viel erfolg ich hoffe das hilft gern geschehen",
                "obrigado obrigada boa sorte espero que ajude",
                "certo grazie buona fortuna spero che aiuti prego",
                "конечно спасибо удачи надеюсь это поможет пожалуйста",
                "好的 当然 谢谢 祝你好运 希望这有帮助 不客气",
                "もちろん ありがとう 頑張って お役に立てれば幸いです",
            )
        )
    )
)
OVERLAP_THRESHOLD = 0.6
SIMILARITY_THRESHOLD = 0.6


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    """The verdict on one sentence (or fenced code block) of the draft."""

    text: str
    cited: tuple[int, ...]  # source numbers the model wrote, 1-based
    best_source: int  # 1-based source with most support (among ``supporting`` when any), 0 if none
    overlap: float
    similarity: float
    supported: bool
    judged: bool  # False for sentences too short to judge
    separator: str = ""  # whitespace before it in the draft: " ", or line breaks and indentation
    # 1-based sources that support it on their own (close, and holding all its identifiers); a
    # sentence is supported when there is one.
    supporting: tuple[int, ...] = ()
    code: bool = False  # a fenced code block
    # Words of an unjudged sentence that no shown source holds (courtesy words aside): "Then reboot
    # twice.", "Never do that." next to a supported step add a claim nothing vouches for.
    unsourced: tuple[str, ...] = ()
    lead_in: bool = False  # ends in ":", introducing the next sentence or block


@dataclass(frozen=True, slots=True)
class GroundingResult:
    """All sentence verdicts and the share of judged sentences that are supported."""

    sentences: tuple[SentenceCheck, ...]
    support: float

    @property
    def kept(self) -> list[SentenceCheck]:
        """Supported sentences, and short unjudged ones right next to a supported one (see
        :meth:`_rides_along`). A kept sentence's separator is the strongest (most line breaks) of its
        own and those of the dropped sentences before it, so a dropped line does not glue the next
        line to the previous one."""
        kept: list[SentenceCheck] = []
        gap = ""
        for i, s in enumerate(self.sentences):
            gap = _stronger(gap, s.separator)
            if s.supported or self._rides_along(i):
                kept.append(s if gap == s.separator else replace(s, separator=gap))
                gap = ""
        return kept

    def _rides_along(self, i: int) -> bool:
        """Whether the unjudged sentence ``i`` ("Sure!", "Then restart it.") is kept: only as the
        sentence before or after a supported one in the same paragraph, never a question or code,
        and only when every word of it but courtesy is in a shown source. Too short to judge is not
        too short to be wrong ("Then reinstall Windows.", "Never do that."): anywhere else, or with
        a word of its own, nothing vouches for it."""
        checks = self.sentences
        s = checks[i]
        if s.judged or s.code or is_question(s.text):
            return False
        before = i > 0 and checks[i - 1].supported and not _paragraph_break(s.separator)
        after = i + 1 < len(checks) and checks[i + 1].supported and not _paragraph_break(checks[i + 1].separator)
        if s.unsourced:
            # Words of its own: only a lead-in, right before the supported item it introduces.
            return s.lead_in and after
        return before or after


def _paragraph_break(separator: str) -> bool:
    """Whether a separator between two sentences is a blank line (:func:`_separator`)."""
    return separator.count("\n") >= 2


def _stronger(before: str, own: str) -> str:
    return before if before.count("\n") > own.count("\n") else own


@dataclass(frozen=True, slots=True)
class _Segment:
    """A sentence or fenced code block of a draft: ``text[start:end]``, stripped."""

    start: int
    end: int
    code: bool


def _segments(text: str) -> list[_Segment]:
    """Sentences and fenced code blocks of ``text`` in order. A code block is never split; prose is
    split at line breaks and sentence ends, and a list marker opening a line ("1.") stays with the
    sentence after it."""
    out: list[_Segment] = []
    pos = 0
    for block in _FENCE.finditer(text):
        if block.start() < pos:
            continue
        out.extend(_prose(text, pos, block.start()))
        end = block.end()
        marks = _TRAILING_MARKS.match(text, end)
        out.append(_Segment(block.start(), marks.end() if marks else end, True))
        pos = out[-1].end
    out.extend(_prose(text, pos, len(text)))
    return out


def _prose(text: str, start: int, end: int) -> list[_Segment]:
    out: list[_Segment] = []
    for line in _LINE.finditer(text, start, end):
        pieces: list[_Segment] = []
        at = line.start()
        for stop, resume in [*_sentence_breaks(text, line.start(), line.end()), (line.end(), line.end())]:
            piece = text[at:stop]
            if piece.strip():
                lead = len(piece) - len(piece.lstrip())
                pieces.append(_Segment(at + lead, at + len(piece.rstrip()), False))
            at = resume
        if len(pieces) > 1 and _BARE_MARK.fullmatch(text[pieces[0].start : pieces[0].end]):
            pieces[:2] = [_Segment(pieces[0].start, pieces[1].end, False)]
        out.extend(pieces)
    return out


def _sentence_breaks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Where sentences end within ``text[start:end]`` (one line): ``(end of one, start of the next)``."""
    breaks = []
    for brk in _SENTENCE_END.finditer(text, start, end):
        gap = 1 if brk.group(1) is not None else 2
        if gap == 2 or _opens_sentence(text[brk.end()]):
            breaks.append((brk.start(gap), brk.end(gap)))
    return breaks


def _opens_sentence(char: str) -> bool:
    """Whether a sentence may start with ``char`` after ". ": a capital of any script ("Удалите",
    "Équipe"), a letter of a script without case (Arabic, Hindi, Chinese), a digit or markup."""
    return char in _OPENING_MARKS or (char.isalpha() and not char.islower())


def _separator(gap: str) -> str:
    """The layout between two sentences: a space, or up to two line breaks and the indentation."""
    if "\n" not in gap:
        return " " if gap else ""
    return "\n" * min(gap.count("\n"), 2) + gap[gap.rfind("\n") + 1 :]


# A line of its own: a list item, quote, heading, table row or code fence starts one. A bullet or
# heading mark is followed by a space: "**New Application**." wrapped onto its own line is bold text
# going on with the sentence, not a list item.
_OWN_LINE = re.compile(r"(?:[-*•+](?:\s|$)|>|#{1,6}(?:\s|$)|\||\d{1,2}[.)](?:\s|$)|```|~~~)")
# Started only where a run of spaces and tabs starts (or at the line break itself, after a break
# that took the run's start): from each space of a long run without a break, [ \t]* scanned the rest
# of the run, the square of its length. It finds the same breaks.
_LINE_BREAK = re.compile(r"(?<![ \t])[ \t]*\n[ \t]*|\n[ \t]*")
_CLOSERS = "*_`\"')]»”’"
_CLAUSE_ENDS = (".", "!", "?", ":", ";", "。", "！", "？", "：", "；", "।", "॥", "؟")
_WRAP_WORDS = 3  # words on each side of a line break that must stand around one in a doc


def unwrap(text: str, docs: Sequence[str] = ()) -> str:
    """``text`` with the line breaks it copied from a doc's hard wrap joined (a space instead).

    Docs are wrapped at a fixed width; a model quoting one copies its line breaks ("... and create
    a" / "New Application."), and cut into sentences there, half a sentence was judged alone and
    the citation mark landed mid-sentence. Chat messages are not wrapped (a member's line break
    means a new line), so only a line break with the same words around it (up to
    :data:`_WRAP_WORDS` each side, markup and indentation aside) in one of ``docs`` is joined; and
    only inside a paragraph, outside code, after a line that ends no sentence or clause and is no
    heading or table row, before a line that starts no list item, quote, heading, table row or fence.
    """
    if "\n" not in text or not docs:
        return text
    code = [m.span() for m in _FENCE.finditer(text)]
    out, at = [], 0
    for brk in _LINE_BREAK.finditer(text):
        newline = text.index("\n", brk.start())
        if any(a <= newline < b for a, b in code):
            continue
        before = text[text.rfind("\n", 0, newline) + 1 : brk.start()]
        end = text.find("\n", brk.end())
        after = text[brk.end() : end if end >= 0 else len(text)]
        if _may_wrap(before, after) and _wrapped_in(before, after, docs):
            out += [text[at : brk.start()], " "]
            at = brk.end()
    return "".join(out) + text[at:] if out else text


def _may_wrap(before: str, after: str) -> bool:
    """Whether the line ``after`` may go on with the sentence of the line ``before``."""
    line = strip_citations(before).strip()
    if not line or not after.strip() or line.startswith(("#", "|")) or _BARE_MARK.fullmatch(line):
        return False
    if line.rstrip(_CLOSERS).endswith(_CLAUSE_ENDS) or line.endswith(("```", "~~~")):
        return False
    return not _OWN_LINE.match(after)


def _wrapped_in(before: str, after: str, docs: Sequence[str]) -> bool:
    """Whether a doc breaks a line between the last words of ``before`` and the first of ``after``
    (with nothing but markup and indentation around the break: not a blank line)."""
    head = _WORD.findall(strip_citations(before))[-_WRAP_WORDS:]
    tail = _WORD.findall(after)[:_WRAP_WORDS]
    if not head or not tail:
        return False
    words = r"[^\w\n]+".join(map(re.escape, head)) + r"[^\w\n]*\n[^\w\n]*" + r"[^\w\n]+".join(map(re.escape, tail))
    found = re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)
    return any(found.search(doc) for doc in docs)


def split_sentences(text: str) -> list[str]:
    """Sentences of a chat answer (also split at line breaks), stripped, non-empty; a fenced code
    block is one item, and a list marker opening a line stays with its item."""
    return [text[s.start : s.end] for s in _segments(text)]


def is_code_block(text: str) -> bool:
    """Whether a sentence of :func:`split_sentences` is a fenced code block."""
    return text.startswith(("```", "~~~"))


def code_block_closed(block: str) -> bool:
    """Whether a fenced code block has its closing fence (the model was not cut off inside it): on
    a line of its own or, in a block on one line (```npm run dev```), after the code."""
    body = strip_citations(block).rstrip()
    return len(body) >= 6 and body.endswith(body[:3])


def code_lines(block: str) -> list[str]:
    """The lines of a fenced code block that run: without the fences, blank lines, comments or
    lines without a word (``}``), and with a shell or REPL prompt (``$ ``, ``>>> ``) cut."""
    body = strip_citations(block).strip()
    first, *lines = body.split("\n")
    # The opening fence, and its info string ("```python") when code follows on later lines; code
    # on the fence's own line ("```import os", as Slack writes blocks) is code, judged like the rest.
    opening = first.strip()[3:]
    if opening.strip() and not (lines and _INFO_STRING.fullmatch(opening.strip())):
        lines.insert(0, opening)
    if lines and lines[-1].strip() in ("```", "~~~"):
        lines = lines[:-1]
    elif lines and lines[-1].rstrip().endswith(("```", "~~~")):
        lines[-1] = lines[-1].rstrip()[:-3]
    out = []
    for line in lines:
        line = _PROMPT.sub("", line.strip())
        if line and not _COMMENT.match(line) and _WORD.search(line):
            out.append(line)
    return out


_INFO_STRING = re.compile(r"[\w+#.-]{1,20}")
_LIST_MARK = re.compile(r"^\s*(?:[-*•#]+|\d{1,2}[.)])\s*")
_BARE_MARK = re.compile(r"\d{1,2}[.)]|[-*•+]")
_FINISHED = (".", "!", "?", "]", "`", ")", ":", "。", "！", "？", "।", "॥", "؟")


def _sentence_key(sentence: str) -> str:
    """A sentence compared as content: no list marker, citation marks, case or end punctuation."""
    body = _LIST_MARK.sub("", strip_citations(sentence)).lower().strip().rstrip(".!?:").strip()
    return " ".join(body.split())


def unique_sentences(sentences: Sequence[str]) -> list[str]:
    """``sentences`` without repeats, without list items they already said, and without bare list
    markers ("2.").

    Small models loop ("4. Paste the manifest [1]. 5. Paste the manifest [1]. ..."), also inside
    one sentence ("your messages, your reactions, and your messages [1]."); a repeat adds nothing
    for the reader and must not inflate the share of supported sentences either. A code block is
    compared whole and never cut into items.
    """
    return [text for text, _ in _unique([(s, "") for s in sentences])]


def _unique(sentences: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """:func:`unique_sentences` of ``(sentence, separator)`` pairs; a dropped sentence's separator
    goes to the next one kept when it is the stronger."""
    seen: set[str] = set()
    unique: list[tuple[str, str]] = []
    gap = ""
    for sentence, separator in sentences:
        gap = _stronger(gap, separator)
        if not is_code_block(sentence):
            # Within a sentence only: steps legitimately recur across sentences ("..., then restart it").
            sentence = without_repeated_items(sentence)
        key = _sentence_key(sentence)
        if not key or key in seen:
            continue
        seen.add(key)
        unique.append((sentence, gap))
        gap = ""
    return unique


# A list item this long (words) is a statement worth saying once; shorter ones ("and so on",
# "for example") legitimately recur.
_MIN_ITEM_WORDS = 4
_CONJUNCTION = re.compile(r"^([,;]?\s*)(and|or)\s+", re.IGNORECASE)
_SEPARATOR = re.compile(r"^[,;]")
_ITEM_TAIL = re.compile(r"(?:\s*(?:" + _CITE_MARK + r"))*\s*[.!?:]*\s*$", re.IGNORECASE)


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


def drop_unfinished_tail(text: str, docs: Sequence[str] = ()) -> str:
    """``text`` without a last sentence (or code block) cut off mid-way (the model hit its token
    limit); line breaks copied from the wraps of ``docs`` joined first (:func:`unwrap`), so a wrap
    is no sentence end."""
    text = unwrap(text, docs)
    parts = _segments(text)
    if len(parts) < 2:
        return text
    last = text[parts[-1].start : parts[-1].end]
    if code_block_closed(last) if parts[-1].code else _finished(last):
        return text
    drop = 1  # the fragment, and the bare list marker ("5.") that may open it
    while drop < len(parts) - 1 and not _sentence_key(text[parts[-1 - drop].start : parts[-1 - drop].end]):
        drop += 1
    return text[: parts[-drop].start].rstrip()


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


# Latin, full-width (Chinese, Japanese) and Arabic question marks.
_QUESTION_MARKS = ("?", "？", "؟")


def is_question(sentence: str) -> bool:
    """Whether a sentence asks rather than answers (the model echoing a source's question, or the
    member's): never support for an answer, and never kept in one."""
    return strip_citations(sentence).rstrip(" *_`\"')]").endswith(_QUESTION_MARKS)


def degenerate(sentence: str) -> bool:
    """Whether a sentence is a generation loop or word salad rather than a statement (see above),
    or says its own clause twice (:func:`says_twice`)."""
    if _REPEATED_WORD.search(sentence):
        return True
    tokens = tokenize(sentence)
    if sentence.isascii() and len(_WORD.findall(sentence)) >= 10 and len(set(tokens)) <= 1:
        return True
    # Content words mostly repeated (at most half distinct), outside code, which repeats by nature.
    if len(tokens) >= 6 and len(set(tokens)) <= len(tokens) / 2 and not _CODE_MARK.search(sentence):
        return True
    return says_twice(sentence)


def _word_list(*languages: str) -> frozenset[str]:
    """The words of ``languages`` (one string of space-separated words each)."""
    return frozenset(" ".join(languages).split())


# A clause said twice: "It does not delete messages from channels it was never invited to, but it
# does delete messages from channels it was never invited to." Every word is in a source and the
# content words are not repeated often enough for the rule above, so it passed as supported. Words
# are compared without negations, so "X, but not X" is found as well as "X, and X"; the lists hold
# the languages of COURTESY_WORDS (Han counts each character as a word, written without spaces).
# Negations that count: one of these before a clause flips it.
_NEGATIONS = _word_list(
    "not no never cannot nor neither none nothing nobody nowhere",  # English ("n't" too: _unnegated)
    "nunca jamás tampoco ni",  # Spanish ("no" above)
    "ne",  # French ("n'" too); "pas", "jamais"... are its second half, left out uncounted
    "nicht nie niemals kein keine keinen keinem keiner keines",  # German
    "não nao",  # Portuguese ("nunca" above)
    "non mai",  # Italian
    "не нет никогда ни",  # Russian
    "不 没 沒 别 別 无 無 非",  # Chinese
)
_NEGATION_PARTS = _word_list("pas jamais rien aucun aucune guère")  # French: "ne ... pas" is one negation
_CONTRACTIONS = {"can't": "can", "won't": "will", "shan't": "shall", "cannot": "can"}
# What may stand between the two sayings ("..., but it ..."): joining words and pronouns. Anything
# else ("reads X and ignores X", "Slack does X, but Discord does not X") makes them two statements.
_JOINERS = _word_list(
    "but and or yet so though although however whereas while also then it they he she this that which we you i",
    "pero y o e u sino aunque él ella ellos ellas esto eso se",
    "mais et ou pourtant cependant il elle ils elles on cela ça ce",
    "aber und oder doch sondern jedoch er sie es das man",
    "mas ou porém ele ela eles elas isso",
    "ma però tuttavia esso essa lui lei si",
    "но и или а однако он она оно они это",
    "但 是 而 和 或 它 他 她 却 可",
)
_HAN_KANA = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
# A word: each Han or kana character (written without spaces), else a run of word characters with
# its apostrophes ("doesn't", "n'est").
_CLAUSE_WORD = re.compile(rf"[{_HAN_KANA}]|[^\W{_HAN_KANA}]+(?:['’][^\W\d_]+)*")
_SLACK_LINK = re.compile(r"<(?:https?|mailto):[^<>]*>")
_MIN_CLAUSE_WORDS = 4  # a shorter shared run ("in the config") is phrasing, not a clause
_MAX_SAYS_TWICE_WORDS = 300  # longer is no sentence an answer has; the search is quadratic


def _unnegated(word: str) -> tuple[str, int]:
    """``word`` without its negation, and how many negations it held: ("not", 1) -> ("", 1),
    ("doesn't", 1) -> ("does", 1), ("n'est", 1) -> ("est", 1)."""
    word = word.replace("’", "'")
    if word in _CONTRACTIONS:
        return _CONTRACTIONS[word], 1
    if word in _NEGATIONS:
        return "", 1
    if word in _NEGATION_PARTS:
        return "", 0
    if word.endswith("n't"):
        return word[:-3], 1
    if word.startswith("n'") and len(word) > 2:
        return word[2:], 1
    return word, 0


def says_twice(sentence: str) -> bool:
    """Whether ``sentence`` ends by saying again a clause it said before, with nothing but joining
    words and pronouns between the two ("X, but it X"; what precedes the first is free: "The bot
    X, but it X"), negation words aside: either with the same negations (a loop) or one negation
    apart (it asserts X and not-X). Two negations apart is a contrast ("indexed if the channel is
    public, and not indexed if the channel is not public"). The shared clause has at least
    :data:`_MIN_CLAUSE_WORDS` words, two of them content words, and the two sayings make up at least
    half of the sentence's words."""
    words: list[str] = []
    negations: list[int] = []  # negations seen up to and including each kept word
    seen = 0
    # A web address is no clause, and Slack writes a link as its address twice (<http://x.io|x.io>).
    prose = _URL.sub(" ", _SLACK_LINK.sub(" ", strip_citations(sentence)))
    for raw in _CLAUSE_WORD.findall(prose.lower()):
        word, negated = _unnegated(raw)
        seen += negated
        if word:
            words.append(word)
            negations.append(seen)
    n = len(words)
    if n < 2 * _MIN_CLAUSE_WORDS or n > _MAX_SAYS_TWICE_WORDS:
        return False
    for start in range(_MIN_CLAUSE_WORDS, n - _MIN_CLAUSE_WORDS + 1):
        clause = words[start:]
        size = n - start
        # The two sayings are most of the sentence: "the ones worked on and the ones not worked on"
        # inside a longer sentence names two kinds of thing, and says nothing twice.
        if size > start or 4 * size < n or len(tokenize(" ".join(clause))) < 2:
            continue
        # The first saying ends at most a few joining words before the second starts.
        for end in range(start, max(size, start - 3) - 1, -1):
            between = words[end:start]
            if words[end - size : end] != clause or not all(w in _JOINERS for w in between):
                continue
            first = negations[end - 1]  # negations of the first saying (and what precedes it)
            second = seen - first
            if (second - first) % 2 or second == first:
                return True
    return False


def _code_regions(text: str) -> list[tuple[int, int]]:
    """Where ``text`` holds code (fenced blocks, then code spans outside them): no citations there."""
    regions = [m.span() for m in _FENCE.finditer(text)]
    masked = text
    for a, b in regions:
        masked = masked[:a] + " " * (b - a) + masked[b:]
    return regions + [m.span() for m in _CODE_SPAN.finditer(masked)]


def code_copied_indexes(draft: str, sources: Sequence[str]) -> str:
    """``draft`` with each indexed name it copied from a source (``rows[1]`` written in a message
    without backticks) marked as code, so the index is not read as a citation and cut out of the
    answer. A glued mark no source holds as written (``the token[1]``) stays a citation."""
    if "[" not in draft:
        return draft
    regions = _code_regions(draft) if "`" in draft or "~~~" in draft else []
    regions += [m.span() for m in _URL.finditer(draft)]
    out, at = [], 0
    for m in _GLUED_INDEX.finditer(draft):
        if any(a < m.end() and m.start() < b for a, b in regions) or not any(m.group(0) in s for s in sources):
            continue
        out += [draft[at : m.start()], f"`{m.group(0)}`"]
        at = m.end()
    return "".join(out) + draft[at:] if out else draft


def _citation_marks(text: str) -> list[re.Match[str]]:
    regions = _code_regions(text) if "`" in text or "~~~" in text else []
    if "://" in text:
        regions += [m.span() for m in _URL.finditer(text)]
    return [m for m in _CITATION.finditer(text) if not any(a < m.end() and m.start() < b for a, b in regions)]


def _mark_numbers(mark: str) -> list[int]:
    """Source numbers of one citation mark: "[1, 2]" -> 1, 2; "[1-3]" -> 1, 2, 3."""
    numbers: list[int] = []
    dash = False
    # 【1†L10-L20】: what follows the dagger names a place in the source, not more sources.
    for part in _CITE_PARTS.findall(mark.split("†", 1)[0]):
        if not part.isdigit():
            dash = bool(numbers)
            continue
        n = int(part)
        if dash and 0 < n - numbers[-1] <= _MAX_RANGE:
            numbers.extend(range(numbers[-1] + 1, n))
        numbers.append(n)
        dash = False
    return numbers


def cited_numbers(sentence: str) -> tuple[int, ...]:
    """Source numbers a sentence cites (``[1]``, ``[1, 2]``, ``[1-3]``, ``[^1]``, ``(source 2)``;
    not inside code), in order, without repeats."""
    return tuple(dict.fromkeys(n for m in _citation_marks(sentence) for n in _mark_numbers(m.group(0))))


def strip_citations(text: str) -> str:
    """``text`` without its citation marks (and the spaces before them); code is left as it is."""
    out, at = [], 0
    for m in _citation_marks(text):
        start = m.start()
        while start > at and text[start - 1] in " \t":
            start -= 1
        out.append(text[at:start])
        at = m.end()
    return "".join(out) + text[at:]


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
    raw_shown = [u.unit.text for u in units] if texts is None else list(texts)
    if len(raw_shown) != len(units):
        raise ValueError(f"{len(raw_shown)} texts for {len(units)} units")
    # The prompt quotes <, > and " as look-alikes (brain.qa.context); compared as the characters
    # they stand for, whichever of the two the model wrote back.
    shown = [unquote(t) for t in raw_shown]
    draft = unwrap(draft, [t for t, u in zip(shown, units, strict=True) if u.unit.kind == "doc"])
    spans = _segments(draft)
    pairs = [
        (draft[seg.start : seg.end], _separator(draft[spans[k - 1].end : seg.start]) if k else "")
        for k, seg in enumerate(spans)
    ]
    sentences = _unique(pairs)
    if not sentences or not units:
        return GroundingResult(tuple(), 0.0)
    plain = [_judged_text(s) for s, _ in sentences]
    unit_tokens = [set(tokenize(t)) for t in shown]
    sourced_words = set().union(*unit_tokens) | COURTESY_WORDS
    shown_lower = [t.lower() for t in shown]
    all_lower = "\n".join(shown_lower)
    shown_code = [_code_text(t) for t in shown]
    # Two calls, not one: a batch is padded to its longest text, and sentences are a tenth of a
    # source's length (one batch of 6 sources + 5 sentences took 0.48 s on 2 cores, two took 0.29 s).
    unit_vecs, sent_vecs = embedder.embed(shown), embedder.embed(plain)
    sims = np.asarray(sent_vecs @ unit_vecs.T, dtype=np.float32)
    checks = []
    for i, ((raw, separator), text) in enumerate(zip(sentences, plain, strict=True)):
        tokens = set(tokenize(text))
        overlaps = [len(tokens & ut) / len(tokens) if tokens else 0.0 for ut in unit_tokens]
        overlap, similarity = max(overlaps), float(sims[i].max())
        close = [
            o >= overlap_threshold or float(x) >= similarity_threshold for o, x in zip(overlaps, sims[i], strict=True)
        ]
        code = is_code_block(raw)
        if code and known_identifiers:
            # Every line that runs must be in a shown source (one source, to support it on its own).
            lines = [_code_text(line) for line in code_lines(raw)]
            found = [[_has_code(source, line) for source in shown_code] for line in lines]
            judged = bool(lines)
            supported = judged and all(any(row) for row in found)
            alone = [judged and all(row[j] for row in found) for j in range(len(units))]
        else:
            names = identifiers(text) if known_identifiers else []
            invented = [name for name in names if name.lower() not in all_lower]
            looping = not code and degenerate(text)
            question = not code and is_question(text)
            judged = (len(tokens) >= MIN_TOKENS or bool(invented) or looping) and not question
            # One source must vouch for the whole sentence: close enough to it, and holding every
            # identifier it names. Closeness from one source and the names from another let a name
            # be spliced into a source's words ("... invited to (GUILDHALL_BRAINS) [1]", the name
            # only in source 2), cited to the source that lacks it.
            alone = [
                judged
                and not invented
                and not looping
                and close[j]
                and all(name.lower() in shown_lower[j] for name in names)
                for j in range(len(units))
            ]
            supported = any(alone)
        supporting = tuple(j + 1 for j, ok in enumerate(alone) if ok)
        # A lead-in ("Steps:", "Try this:") introduces what follows: kept only before what it
        # introduces, when that is supported (:meth:`GroundingResult._rides_along`).
        lead_in = text.rstrip().endswith((":", "："))
        unsourced = () if judged or code else tuple(sorted(tokens - sourced_words))
        score = np.asarray(overlaps) + sims[i]
        best = max(supporting, key=lambda n: float(score[n - 1])) if supporting else int(np.argmax(score)) + 1
        checks.append(
            SentenceCheck(
                raw,
                cited_numbers(raw),
                best,
                overlap,
                similarity,
                supported,
                judged,
                separator=separator,
                supporting=supporting,
                code=code,
                unsourced=unsourced,
                lead_in=lead_in,
            )
        )
    judged_checks = [c for c in checks if c.judged]
    support = sum(c.supported for c in judged_checks) / len(judged_checks) if judged_checks else 0.0
    return GroundingResult(tuple(checks), support)


def best_part(sentences: Sequence[str], parts: Sequence[str], embedder: Embedder) -> int:
    """Index of the part of a source (one message of a conversation) that best supports
    ``sentences`` (of the draft, as :func:`check` reads them), by the check's own measures: the share
    of a sentence's words in the part plus their embeddings' cosine, summed over the sentences; the
    earliest part on a tie."""
    if len(parts) < 2 or not sentences:
        return 0
    plain = [_judged_text(s) for s in sentences]
    part_vecs, sent_vecs = embedder.embed([unquote(p) for p in parts]), embedder.embed(plain)
    score = np.asarray(sent_vecs @ part_vecs.T, dtype=np.float64).sum(axis=0)
    part_tokens = [set(tokenize(unquote(p))) for p in parts]
    for text in plain:
        tokens = set(tokenize(text))
        if tokens:
            score += [len(tokens & pt) / len(tokens) for pt in part_tokens]
    return int(np.argmax(score))


_LEADING_MARK = re.compile(r"^(?:[-*•+]|\d{1,2}[.)])[ \t]+")


def _judged_text(sentence: str) -> str:
    """What is judged of a sentence: no citation marks or list marker; of a code block, its code."""
    if is_code_block(sentence):
        return "\n".join(code_lines(sentence))
    return unquote(_LEADING_MARK.sub("", strip_citations(sentence).strip()))


def _code_text(text: str) -> str:
    """Text compared as code: lower case, runs of whitespace as one space."""
    return " ".join(text.lower().split())


def _has_code(source: str, line: str) -> bool:
    """Whether ``line`` (:func:`_code_text`) stands in ``source`` (same form), not inside a longer word."""
    return re.search(rf"(?<!\w){re.escape(line)}(?!\w)", source) is not None
