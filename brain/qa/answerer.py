"""From a question to a grounded, cited answer (or an honest abstention).

1. retrieve units under the asker's access scope, taking the question's own message out of the
   unit that holds it (:func:`brain.qa.context.without_messages`);
2. build the prompt from ``prompts/`` templates: the best-ranked units that fit ``qa.context_chars``
   (:mod:`brain.qa.context`), each in a numbered ``<source>`` block with its role-like markup
   neutralised and ``< > "`` quoted, so a message saying "ignore previous instructions" stays
   quoted text and no delimiter can be forged;
3. generate, verify each sentence (:mod:`brain.qa.grounding`) against exactly the source text the
   model was shown, drop unsupported ones;
4. cite, for each kept sentence, the sources it names that support it on their own (else the one
   that supports it best), renumbered ``[1]..[n]`` by first use, with message links (a
   conversation's link is its message that the citing sentences used); keep the draft's line
   breaks, list markers and code blocks (a mark goes after a block, never inside); or abstain
   naming the best-ranked channel about the question other than the one it was asked in.
   A question no retrieved unit is about (:data:`RELEVANCE_FLOOR`) is abstained on before the
   model is asked, naming no channel.
The output is neutralised too: mass mentions (``@everyone``, ``<!channel>``) never reach the chat.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from bot.config import Settings
from bot.events import ChannelRef, Citation
from bot.ml import LLM, ChatMessage, Embedder, Generation, ScoredUnit, Unit
from bot.privacy.mentions import neutralize
from bot.store import Store
from bot.valid_text import clip
from brain.qa import grounding
from brain.qa.access import AccessScope
from brain.qa.context import Source, fit_sources, sanitize_source, unquote, without_messages
from brain.qa.mentions import strip_mentions
from brain.qa.retriever import Retriever
from brain.qa.tokenize import tokenize
from brain.qa.units import embedding_text
from prompts import load_prompt, render_prompt

NOT_FOUND = "NOT_FOUND"
# The model's "the sources don't answer this": the token alone (with stray punctuation or marks), not
# an answer naming an error code (gRPC's NOT_FOUND, ERROR_FILE_NOT_FOUND).
_NOT_FOUND_REPLY = re.compile(r"\W*" + NOT_FOUND + r"\W*")
# How long an answer waits for a local model to finish loading (a first question right after start).
MODEL_LOAD_TIMEOUT_S = 600.0
# A question no retrieved unit is at least this close to (cosine of the question and the unit as
# embedded for retrieval) is off-topic here ("how do I make pancakes?", "why why why ..."): the bot
# abstains without asking the model and suggests no channel. Measured with the questions of the
# grounding benchmark (docs/benchmarks.md, "QA grounding check"): of the 159 slack-pythondev-2019 and
# 169 slack-racket questions whose answer was retrieved, none has its best unit below 0.3 (at 0.35,
# 2 and 1 do), while 9 and 6 of 15 off-topic questions do. Only the best unit is held to it:
# the unit holding the answer is below 0.3 for 3% of those questions, so no unit is dropped by it.
# Cosines are on each encoder's own scale: the floor holds for the encoder it was measured with
# (:func:`relevance_floor_for`).
RELEVANCE_FLOOR = 0.3
_NUMBERED = re.compile(r"^(\d{1,2})[.)]\s")

# The answer prompt's own labels, which a small model sometimes repeats as its first line, and the
# tags that delimit its sources (a line of "</source>" at the end of an answer).
_PROMPT_ECHO = re.compile(
    r"^\s*(?:(?:Community history|Question|Answer[^:\n]{0,60}):|</?source\b[^>\n]{0,80}>)[ \t]*$\n?",
    re.IGNORECASE | re.MULTILINE,
)


def without_prompt_echo(draft: str) -> str:
    """``draft`` without lines that only repeat a label of the answer prompt ("Community history:")
    or a source's delimiting tag (``</source>``)."""
    return _PROMPT_ECHO.sub("", draft).strip()


def neutralize_output(text: str) -> str:
    """Defuse mass and role mentions in generated text (the shared rule of :mod:`bot.privacy.mentions`)."""
    return neutralize(text)


@dataclass
class Answer:
    """What the answerer decided; ``text`` is ready to post."""

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    units: list[ScoredUnit] = field(default_factory=list)
    draft: str = ""
    support: float = 0.0
    cited_unit_ids: tuple[str, ...] = ()


ChannelNamer = Callable[[ScoredUnit], Awaitable[str]]
# (platform, workspace id, message id) -> the message's stored text, or None when unknown.
MessageText = Callable[[str, str, str], Awaitable[str | None]]
# (platform, workspace id, message id) -> the message's permalink, or None when unknown.
MessageLink = Callable[[str, str, str], Awaitable[str | None]]


def store_channel_namer(store: Store) -> ChannelNamer:
    """``#name`` of a unit's channel from the store (a docs unit is named by its title)."""

    async def channel_name(item: ScoredUnit) -> str:
        unit = item.unit
        if unit.kind == "doc":
            return unit.title or "docs"
        row = await store.get_channel(unit.platform, unit.workspace_id, unit.channel_id)
        return f"#{row.name or row.channel_id}" if row else f"#{unit.channel_id}"

    return channel_name


def store_message_text(store: Store) -> MessageText:
    """A message's stored text (what units are built from), from the store."""

    async def message_text(platform: str, workspace_id: str, message_id: str) -> str | None:
        row = await store.get_message(platform, workspace_id, message_id)
        return row.text if row and not row.deleted else None

    return message_text


def store_message_link(store: Store) -> MessageLink:
    """A message's permalink, from the store (None for a deleted message or one without a link)."""

    async def message_link(platform: str, workspace_id: str, message_id: str) -> str | None:
        row = await store.get_message(platform, workspace_id, message_id)
        return row.permalink if row and not row.deleted and row.permalink else None

    return message_link


def relevance_floor_for(embedder: Embedder) -> float:
    """:data:`RELEVANCE_FLOOR` for the encoder it was measured with (the bundled
    all-MiniLM-L6-v2); 0, no floor, for any other (another model's or a tuned encoder's cosines are
    on a scale of their own, and so are a test double's)."""
    from brain.qa.embedder import DEFAULT_MODEL, SentenceTransformerEmbedder, resolve_model_path

    if isinstance(embedder, SentenceTransformerEmbedder) and embedder.path == resolve_model_path(DEFAULT_MODEL):
        return RELEVANCE_FLOOR
    return 0.0


@dataclass(frozen=True, slots=True)
class _AskedIn:
    """The channel a question was asked in, which an abstention never suggests asking in: by
    ``(platform, workspace, channel id)`` and by the ``#name`` the channel namer gives it."""

    channels: frozenset[tuple[str, str, str]] = frozenset()
    names: frozenset[str] = frozenset()

    def holds(self, item: ScoredUnit, name: str) -> bool:
        unit = item.unit
        return (unit.platform, unit.workspace_id, unit.channel_id) in self.channels or name in self.names


class Answerer:
    """Retrieval-augmented answering with grounding.

    Args:
        retriever: Hybrid retriever.
        llm: Any :class:`bot.ml.LLM`.
        embedder: For the grounding check (same model as retrieval).
        channel_name: ``#name`` of a unit's channel (abstain message, citation titles).
        bot_name: Used in the system prompt.
        k: Units retrieved for the prompt (fewer are shown when they exceed ``context_chars``).
        context_chars: Characters of source text the prompt may hold, best-ranked units first.
        min_support: Share of judged sentences that must be supported, else abstain.
        max_new_tokens: Generation budget.
        fallback_channel: Named when nothing relevant was retrieved.
        timeout_s: Safety net over the backend's own timeout, so a stuck backend cannot hold an
            answer slot forever.
        closest_threads: When abstaining, link up to this many retrieved units whose embedding is
            at least ``closest_min_similarity`` (cosine) close to the question; 0 links none.
        closest_min_similarity: See ``closest_threads``.
        message_text: Stored text of a message, to take the question's own message out of a unit
            where it spans lines (without it such a unit is left out whole), and to find the
            message a citation links in a unit whose messages span lines.
        message_link: Permalink of a message: a citation of a conversation links the message of it
            the cited sentences used (without it, the unit's link: its first message).
        relevance_floor: Abstain, suggesting no channel, when no retrieved unit is at least this
            close (cosine) to the question; 0 turns it off. Default: :func:`relevance_floor_for`
            the embedder.
    """

    def __init__(
        self,
        retriever: Retriever,
        llm: LLM,
        embedder: Embedder,
        *,
        channel_name: ChannelNamer,
        bot_name: str = "guildhall",
        k: int = 6,
        context_chars: int = 2000,
        min_support: float = 0.5,
        max_new_tokens: int = 128,
        fallback_channel: str = "#help",
        timeout_s: float | None = None,
        closest_threads: int = 0,
        closest_min_similarity: float = 0.6,
        message_text: MessageText | None = None,
        message_link: MessageLink | None = None,
        relevance_floor: float | None = None,
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.embedder = embedder
        self.channel_name = channel_name
        self.bot_name = bot_name
        self.k = k
        self.context_chars = context_chars
        self.min_support = min_support
        self.max_new_tokens = max_new_tokens
        self.fallback_channel = fallback_channel
        self.timeout_s = timeout_s
        self.closest_threads = closest_threads
        self.closest_min_similarity = closest_min_similarity
        self.message_text = message_text
        self.message_link = message_link
        self.relevance_floor = relevance_floor_for(embedder) if relevance_floor is None else relevance_floor

    @classmethod
    def from_settings(
        cls, settings: Settings, retriever: Retriever, llm: LLM, store: Store, *, timeout_s: float | None = None
    ) -> Answerer:
        """The answerer the ``[qa]`` and ``[llm]`` settings describe, naming channels from ``store``."""
        qa = settings.qa
        return cls(
            retriever,
            llm,
            retriever.embedder,
            channel_name=store_channel_namer(store),
            bot_name=settings.bot_name,
            k=qa.k,
            context_chars=qa.context_chars,
            min_support=qa.min_support,
            max_new_tokens=settings.llm.max_new_tokens,
            fallback_channel=qa.fallback_channel,
            timeout_s=timeout_s,
            closest_threads=qa.closest_threads,
            closest_min_similarity=qa.closest_min_similarity,
            message_text=store_message_text(store),
            message_link=store_message_link(store),
        )

    def select_sources(self, units: Sequence[ScoredUnit], channels: Sequence[str]) -> list[Source]:
        """What the model is shown of ``units`` (best first): sanitised text within ``context_chars``."""
        return fit_sources(units, channels, budget_chars=self.context_chars)

    def build_messages(self, question: str, units: Sequence[ScoredUnit], channels: Sequence[str]) -> list[ChatMessage]:
        """The chat prompt: fixed system prompt, then the sources that fit (delimited, sanitised) and the question."""
        return self._messages(question, self.select_sources(units, channels))

    def _messages(self, question: str, sources: Sequence[Source]) -> list[ChatMessage]:
        blocks = [
            render_prompt("qa_source", number=n, channel=sanitize_source(source.channel), text=source.text)
            for n, source in enumerate(sources, start=1)
        ]
        return [
            ChatMessage("system", render_prompt("qa_system", bot_name=self.bot_name)),
            ChatMessage(
                "user", render_prompt("qa_answer", context="\n\n".join(blocks), question=sanitize_source(question))
            ),
        ]

    async def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """Rewrite a follow-up into a standalone question using the thread's history ``(who, text)``."""
        if not history:
            return question
        lines = "\n".join(f"{who}: {sanitize_source(text[:400])}" for who, text in history[-8:])
        messages = [
            ChatMessage("system", load_prompt("qa_condense_system")),
            ChatMessage("user", render_prompt("qa_condense", history=lines, question=sanitize_source(question))),
        ]
        out = (await self._generate(messages, 64)).text.strip()
        # A model that rambles or returns nothing must not lose the member's own words.
        # The model copies the quoting of the sources it read ([ERROR] shown as ⁅ERROR⁆): the
        # question is the member's words again, as they are logged and searched.
        first = unquote(out.splitlines()[0]).strip() if out else ""
        return first if 3 <= len(first) <= 500 else question

    async def answer(
        self,
        question: str,
        scope: AccessScope,
        *,
        exclude_message_ids: Set[str] = frozenset(),
        asked_in: ChannelRef | None = None,
    ) -> Answer:
        """Answer ``question`` using only units ``scope`` allows.

        ``exclude_message_ids`` are the question's own messages: their text is taken out of the
        units that hold them (a question must not be "grounded" in its own text, but the answer
        someone gave minutes before it, in the same conversation window or thread, may be used).
        ``asked_in`` is the channel the question was asked in: an abstention never suggests asking
        there (nor in the channel of a unit holding one of ``exclude_message_ids``).

        Raises:
            bot.ml.LLMBusyError: the model's queue is full.
            TimeoutError: generation took too long.
        """
        found = await self.retriever.search(question, scope, k=self.k + len(exclude_message_ids) + _SPARE)
        here = await self._asked_in(asked_in, found, exclude_message_ids)
        units = _beyond_the_question(question, await self._without_messages(found, exclude_message_ids))[: self.k]
        if not units:
            channel = None if self.fallback_channel in here.names else self.fallback_channel
            return Answer(question, _abstention(channel, closest=False), abstained=True)
        relevance = await asyncio.to_thread(self._relevance, question, units)
        if not self._relevant(float(relevance.max())):
            # Nothing here is about the question: no model call, and no channel to suggest.
            return Answer(question, _abstention(None, closest=False), abstained=True, units=list(units))
        sources = self.select_sources(units, [await self.channel_name(u) for u in units])
        # From here on, source n is the n-th *shown* unit: citations and grounding refer to those only.
        units = [s.item for s in sources]
        channels = [s.channel for s in sources]
        relevance = relevance[: len(units)]  # the shown units are the best-ranked ones
        messages = self._messages(question, sources)
        generation = await self._generate(messages, self.max_new_tokens)
        draft = without_prompt_echo(generation.text)
        if generation.finish_reason == "length":
            draft = grounding.drop_unfinished_tail(
                draft, [unquote(s.text) for s in sources if s.item.unit.kind == "doc"]
            )
        draft = grounding.code_copied_indexes(draft, [s.text for s in sources])
        if not draft or _NOT_FOUND_REPLY.fullmatch(grounding.strip_citations(draft)):
            return await self._abstain(question, units, channels, draft, 0.0, relevance, here)
        # Embedding the sources and sentences takes ~0.3 s of CPU; on the loop it would stall every
        # other event for that long (torch releases the GIL, so a thread overlaps with the loop).
        result = await asyncio.to_thread(grounding.check, draft, units, self.embedder, texts=[s.text for s in sources])
        kept = result.kept
        if not kept or result.support < self.min_support:
            return await self._abstain(question, units, channels, draft, result.support, relevance, here)
        answer = self._compose(question, units, channels, draft, result.support, kept)
        return await self._link_messages(answer, units, [s.text for s in sources], kept)

    async def _asked_in(self, asked_in: ChannelRef | None, found: Sequence[ScoredUnit], excluded: Set[str]) -> _AskedIn:
        """Where the question was asked: ``asked_in``, and the channel of a retrieved unit holding
        the question's own message (a mention or a help-channel question is indexed before it is
        answered)."""
        channels: set[tuple[str, str, str]] = set()
        names: set[str] = set()
        if asked_in is not None:
            channels.add((str(asked_in.platform), asked_in.workspace_id, asked_in.channel_id))
            names.add(f"#{asked_in.name or asked_in.channel_id}")
        for item in found:
            unit = item.unit
            if unit.kind != "doc" and any(m in excluded for m in unit.message_ids):
                channels.add((unit.platform, unit.workspace_id, unit.channel_id))
                names.add(await self.channel_name(item))
        return _AskedIn(frozenset(channels), frozenset(names))

    def _relevant(self, similarity: float) -> bool:
        """Whether a unit this close to the question is about it (always, without a floor)."""
        return self.relevance_floor <= 0 or similarity >= self.relevance_floor

    def _relevance(self, question: str, units: Sequence[ScoredUnit]) -> np.ndarray:
        """Cosine of the question and each unit, embedded as for retrieval."""
        vectors = self.embedder.embed([question, *(embedding_text(s.unit) for s in units)])
        return np.asarray(vectors[1:] @ vectors[0], dtype=np.float32)

    async def _without_messages(self, found: Sequence[ScoredUnit], excluded: Set[str]) -> list[ScoredUnit]:
        """``found`` with the text of the messages ``excluded`` taken out (a unit nothing else is
        left of, or where a message cannot be located, is left out)."""
        if not excluded:
            return list(found)
        texts: dict[str, str] = {}
        out: list[ScoredUnit] = []
        for item in found:
            unit = item.unit
            missing = [m for m in unit.message_ids if m in excluded and m not in texts]
            if missing and self.message_text is not None and len(unit.text.split("\n")) != len(unit.message_ids):
                for m in missing:
                    texts[m] = await self.message_text(unit.platform, unit.workspace_id, m) or ""
            rest = without_messages(unit, excluded, texts)
            if rest is not None:
                out.append(item if rest is unit else ScoredUnit(rest, item.score))
        return out

    async def _generate(self, messages: list[ChatMessage], max_new_tokens: int) -> Generation:
        if self.timeout_s is None:
            return await self.llm.generate(messages, max_new_tokens=max_new_tokens)
        # A local model still loading (the first question after start, before the warm-up is done)
        # is waited for outside the timer: the safety net is for a stuck generation, and the load
        # is paid once. Bounded all the same, so a hung load cannot hold the member forever.
        load = getattr(self.llm, "load", None)
        if callable(load):
            await asyncio.wait_for(load(), timeout=max(self.timeout_s, MODEL_LOAD_TIMEOUT_S))
        return await asyncio.wait_for(
            self.llm.generate(messages, max_new_tokens=max_new_tokens), timeout=self.timeout_s
        )

    async def _abstain(
        self,
        question: str,
        units: list[ScoredUnit],
        channels: list[str],
        draft: str,
        support: float,
        relevance: np.ndarray,
        here: _AskedIn,
    ) -> Answer:
        # The channel of the best-ranked conversation about the question, never the one the member
        # asked in (they are there already); the fallback channel when only docs (or that channel)
        # are about it. The caller abstained earlier, suggesting none, when nothing is.
        related = [
            c
            for u, c, r in zip(units, channels, relevance, strict=True)
            if u.unit.kind != "doc" and c and self._relevant(float(r)) and not here.holds(u, c)
        ]
        fallback = None if self.fallback_channel in here.names else self.fallback_channel
        channel = related[0] if related else fallback
        # The draft was not supported, but the sources may still be what the member needs: the model
        # (135M parameters by default) fails to write an answer far more often than the retriever
        # fails to find the thread. Linking the closest ones invents nothing: the member reads them.
        closest = self._closest(question, units, relevance)
        citations = tuple(
            Citation(n, _link_title(units[i], channels[i]), units[i].unit.url, kind="link")
            for n, i in enumerate(closest, start=1)
        )
        text = _abstention(channel, closest=bool(citations))
        return Answer(question, text, citations, abstained=True, units=units, draft=draft, support=support)

    def _closest(self, question: str, units: Sequence[ScoredUnit], similarity: np.ndarray | None = None) -> list[int]:
        """Indexes of the retrieved units close enough to the question to link, best first
        (``similarity``: each unit's cosine to the question, when already known).

        Only conversations someone answered in (two or more authors) and docs are linked: the
        closest match is often an earlier asking of the same question that nobody answered, and a
        link to it helps nobody.
        """
        if self.closest_threads <= 0 or not units:
            return []
        if similarity is None:
            similarity = self._relevance(question, units)
        answered = [s.unit.kind == "doc" or len(set(s.unit.author_ids)) >= 2 for s in units]
        ranked = sorted((i for i in range(len(units)) if answered[i]), key=lambda i: -float(similarity[i]))
        return [i for i in ranked if similarity[i] >= self.closest_min_similarity][: self.closest_threads]

    def _compose(
        self,
        question: str,
        units: list[ScoredUnit],
        channels: list[str],
        draft: str,
        support: float,
        kept: list[grounding.SentenceCheck],
    ) -> Answer:
        order: list[int] = []  # original source numbers in order of first use
        parts: list[str] = []
        number = 0  # of the last kept item of a numbered list, 0 when the last kept line is none
        for s in kept:
            sources = _cited_sources(s)
            for n in sources:
                if n not in order:
                    order.append(n)
            marks = "".join(f"[{order.index(n) + 1}]" for n in dict.fromkeys(sources))
            body = grounding.strip_citations(s.text).strip()
            if s.code:
                if not grounding.code_block_closed(body):
                    body += "\n" + body[:3]
                piece = f"{body} {marks}".rstrip()  # after the closing fence, never inside the code
            elif marks and body[-1:] in {".", "!", "?", ":"}:
                piece = f"{body[:-1]} {marks}{body[-1]}"
            elif marks and body[-1:] in {"。", "！", "？"}:
                piece = f"{body[:-1]}{marks}{body[-1]}"  # Chinese and Japanese set no space before a mark
            else:
                piece = f"{body} {marks}".strip()
            # A dropped item must not leave a gap in a numbered list ("1. ... 3. ...").
            numbered = _NUMBERED.match(piece)
            if numbered and number and "\n" in s.separator:
                number += 1
                piece = f"{number}{piece[numbered.end(1) :]}"
            else:
                number = int(numbered.group(1)) if numbered else 0
            parts.append((s.separator if parts else "") + piece)
        citations = []
        for new_n, old_n in enumerate(order, start=1):
            item = units[old_n - 1]
            citations.append(
                Citation(
                    number=new_n,
                    title=item.unit.title or _source_title(item, channels[old_n - 1]),
                    url=item.unit.url,
                    snippet=neutralize_output(item.unit.text[:200]),
                )
            )
        # The model may copy the prompt's quoted < > " (brain.qa.context): the member reads the real ones.
        text = neutralize_output(unquote("".join(parts)))
        cited_ids = tuple(units[n - 1].unit.unit_id for n in order)
        return Answer(question, text, tuple(citations), False, units, draft, support, cited_ids)

    async def _link_messages(
        self, answer: Answer, units: list[ScoredUnit], shown: list[str], kept: list[grounding.SentenceCheck]
    ) -> Answer:
        """``answer`` with each citation of a conversation (a window or a thread of several
        messages) linking the message of it that best supports the sentences citing it, by the
        grounding check's measures: a unit's link is its first message, which is often not the one
        used ("Hi all, I'm Tom" cited for Leo's words). A message that cannot be located, or has no
        link, leaves the unit's link."""
        if self.message_link is None or not answer.citations:
            return answer
        number = {item.unit.unit_id: n for n, item in enumerate(units, start=1)}
        citations = list(answer.citations)
        for i, unit_id in enumerate(answer.cited_unit_ids):
            n = number[unit_id]
            unit = units[n - 1].unit
            if unit.kind == "doc" or len(unit.message_ids) < 2:
                continue
            parts = await self._message_parts(unit, len(shown[n - 1]))
            if len(parts) < 2:
                continue
            sentences = [s.text for s in kept if n in _cited_sources(s)]
            best = await asyncio.to_thread(grounding.best_part, sentences, [t for _, t in parts], self.embedder)
            link = await self.message_link(unit.platform, unit.workspace_id, parts[best][0])
            if link:
                citations[i] = replace(citations[i], url=link, snippet=neutralize_output(parts[best][1][:200]))
        return replace(answer, citations=tuple(citations))

    async def _message_parts(self, unit: Unit, shown_chars: int) -> list[tuple[str, str]]:
        """``(message id, text)`` of the messages of ``unit`` that start within its first
        ``shown_chars`` characters (what the model was shown of it). A unit's text is its messages'
        texts joined by line breaks (:mod:`brain.qa.units`): one line each, or else each message is
        located by its stored text, in order; none when one cannot be (a message split over chunks)."""
        lines = unit.text.split("\n")
        parts: list[tuple[str, str, int]] = []
        if len(lines) == len(unit.message_ids):
            at = 0
            for message_id, line in zip(unit.message_ids, lines, strict=True):
                parts.append((message_id, line, at))
                at += len(line) + 1
        elif self.message_text is not None:
            at = 0
            for message_id in unit.message_ids:
                own = (await self.message_text(unit.platform, unit.workspace_id, message_id) or "").strip()
                start = unit.text.find(own, at) if own else -1
                if start < 0:
                    return []
                parts.append((message_id, own, start))
                at = start + len(own)
        return [(m, text) for m, text, start in parts if start < shown_chars]


def _cited_sources(s: grounding.SentenceCheck) -> list[int]:
    """The sources a kept sentence cites: a number the model wrote stays only if that source
    supports the sentence on its own (the grounding check's test); else the source that supports it
    best is cited (none for a sentence too short to judge)."""
    return [n for n in s.cited if n in s.supporting] or ([s.best_source] if s.judged else [])


def _abstention(channel: str | None, *, closest: bool) -> str:
    """The abstention, suggesting ``channel`` to ask in (none when there is no channel to suggest)."""
    name = "qa_abstain_closest" if closest else "qa_abstain"
    return render_prompt(name, channel=channel) if channel else load_prompt(f"{name}_no_channel")


def _link_title(item: ScoredUnit, channel: str, limit: int = 80) -> str:
    """``#channel: the unit's opening words`` on one line, clipped (a docs unit: its title)."""
    if item.unit.title:
        return item.unit.title
    line = " ".join(neutralize_output(item.unit.text).split())
    line = clip(line, limit)
    return f"{channel}: {line}" if channel else line


def _source_title(item: ScoredUnit, channel: str) -> str:
    when = datetime.fromtimestamp(item.unit.ts_start, UTC).strftime("%Y-%m-%d") if item.unit.ts_start else ""
    return f"{channel} {when}".strip()


# Retrieved beyond ``k`` so that units dropped as repeats of the question leave ``k`` to show.
_SPARE = 2


def _beyond_the_question(question: str, found: Sequence[ScoredUnit]) -> list[ScoredUnit]:
    """``found`` without the units that say nothing the question does not: an earlier, unanswered
    asking of the same question ranks above the answer (it shares every word) yet can ground
    nothing, and as source 1 it crowded the answer out."""
    # Tokens of every script: with ASCII tokens alone, a unit written in Russian or Chinese had no
    # words, counted as a repeat of any question, and was never shown.
    asked = set(tokenize(strip_mentions(question)))
    return [s for s in found if not set(tokenize(strip_mentions(s.unit.text))) <= asked]
