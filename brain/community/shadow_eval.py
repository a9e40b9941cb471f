"""``guildhall eval shadow``: would the bot's answers have pointed where the community's accepted ones are?

Evidence for an admin deciding whether to take a channel out of shadow mode. Protocol (the QA gold
protocol, on the community's own solved threads):

1. take a seeded sample of solved threads (accepted answer known: ✅ by the asker, "Mark solved" or
   the asker's thanks);
2. copy the history into a temporary store **without those threads' opening questions** (as in the
   ``-noq`` gold exports: a question must not be found through its own text), with the members'
   opt-outs, so the indexer applies the live index's rules (opt-outs, the privacy policy's channels);
3. index the copy with the production indexer and the configured embedder, in a temporary Chroma;
4. ask each question as its asker in its channel (the same access scope as a live answer) through
   the production retriever and, unless ``sources_only``, the production answerer (LLM + grounding).

Reported: ``sources`` — the accepted answer is among the ``qa.k`` sources the bot would show;
``cites`` — the answer cites it; ``abstained`` — the bot would have said it could not find it.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.clock import SystemClock
from bot.config import Settings, VectorSettings
from bot.events import ChannelRef, Platform, Visibility
from bot.ml import LLM, Embedder
from bot.store import ChannelRow, Store, open_store
from brain.qa.access import scope_for
from brain.qa.answerer import Answerer
from brain.qa.bm25 import BM25Index
from brain.qa.indexer import Indexer
from brain.qa.retriever import Retriever
from brain.qa.vector_index import ChromaUnitIndex, open_chroma_client

ChannelPolicy = Callable[[ChannelRow], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class ShadowCase:
    """One solved thread: its opening question and the accepted answer."""

    platform: str
    workspace_id: str
    channel_id: str
    thread_id: str
    question_id: str
    asker_id: str
    question: str
    accepted_id: str


@dataclass
class ShadowReport:
    """What the replay found; rates are over ``threads``."""

    threads: int = 0
    sources: int = 0
    cited: int = 0
    abstained: int = 0
    answered: bool = False  # whether the LLM ran (not ``sources_only``)
    cases: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""

        def rate(n: int) -> float | None:
            return round(n / self.threads, 3) if self.threads else None

        out: dict[str, Any] = {"threads": self.threads, "sources": self.sources, "sources_rate": rate(self.sources)}
        if self.answered:
            out |= {
                "cited": self.cited,
                "cited_rate": rate(self.cited),
                "abstained": self.abstained,
                "abstain_rate": rate(self.abstained),
            }
        return out | {"cases": self.cases}


async def solved_cases(
    store: Store, *, channel_id: str | None = None, sample: int = 50, seed: int = 7
) -> list[ShadowCase]:
    """A seeded sample of solved threads whose question and accepted answer are still stored."""
    sql = (
        "SELECT platform, workspace_id, channel_id, thread_id, solved_message_id FROM threads "
        "WHERE solved_message_id IS NOT NULL AND solved_message_id <> ''"
    )
    params: list[Any] = []
    if channel_id is not None:
        sql += " AND channel_id = ?"
        params.append(channel_id)
    rows = await store.db.fetchall(sql + " ORDER BY platform, workspace_id, thread_id", params)
    cases = []
    for p, ws, cid, tid, accepted in rows:
        root = await store.get_message(p, ws, tid)
        if root is None or root.deleted or not root.text.strip() or accepted == tid:
            continue
        cases.append(ShadowCase(p, ws, cid, tid, tid, root.author_id, root.text, accepted))
    if len(cases) > sample:
        cases = random.Random(seed).sample(cases, sample)
    return cases


async def _history_without(store: Store, copy: Store, questions: set[tuple[str, str, str]]) -> None:
    """Copy channels, live messages and opt-outs into ``copy``, minus ``questions``.

    Opt-outs travel with the copy so the production indexer leaves those members out, as it does live.
    """
    rows = await store.db.fetchall(
        "SELECT platform, workspace_id, channel_id, name, visibility, is_forum FROM channels "
        "ORDER BY platform, workspace_id, channel_id"
    )
    channels = [ChannelRow(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]
    await copy.upsert_channels(channels)
    for p, ws in sorted({(ch.platform, ch.workspace_id) for ch in channels}):
        for user_id in await store.members_with_setting(p, ws, "opted_out", True):
            await copy.set_member_setting(p, ws, user_id, "opted_out", True)
    for ch in channels:
        messages = await store.channel_messages(ch.platform, ch.workspace_id, ch.channel_id)
        await copy.upsert_messages(m for m in messages if (m.platform, m.workspace_id, m.message_id) not in questions)


async def evaluate_shadow(
    store: Store,
    settings: Settings,
    cases: list[ShadowCase],
    *,
    embedder: Embedder,
    llm: LLM | None,
    policy: ChannelPolicy | None = None,
) -> ShadowReport:
    """Replay ``cases`` (see the module docstring); ``llm=None`` measures the sources only."""
    report = ShadowReport(threads=len(cases), answered=llm is not None)
    if not cases:
        return report
    with tempfile.TemporaryDirectory(prefix="guildhall-shadow-") as tmp:
        copy = await open_store(f"sqlite:///{tmp}/history.db")
        try:
            await _history_without(store, copy, {(c.platform, c.workspace_id, c.question_id) for c in cases})
            client = open_chroma_client(VectorSettings(path=f"{tmp}/chroma"))
            index = ChromaUnitIndex(client, "shadow", int(embedder.dim))
            bm25 = BM25Index()
            # The live index's rules: the privacy policy's channels; opted-out members (copied above).
            await Indexer(copy, embedder, index, bm25, clock=SystemClock(), may_index=policy).index_all()
            retriever = Retriever(embedder, index, bm25)

            answerer = Answerer.from_settings(settings, retriever, llm, store) if llm is not None else None
            for case in cases:
                await _replay(store, case, retriever, answerer, settings.qa.k, report)
        finally:
            await copy.close()
    return report


async def _replay(
    store: Store, case: ShadowCase, retriever: Retriever, answerer: Answerer | None, k: int, report: ShadowReport
) -> None:
    row = await store.get_channel(case.platform, case.workspace_id, case.channel_id)
    channel = ChannelRef(
        Platform(case.platform),
        case.workspace_id,
        case.channel_id,
        row.name if row else case.channel_id,
        Visibility(row.visibility) if row else Visibility.PUBLIC,
        bool(row.is_forum) if row else False,
    )
    scope = await scope_for(store, channel, case.asker_id)
    found = await retriever.search(case.question, scope, k=k)
    in_sources = any(case.accepted_id in s.unit.message_ids for s in found)
    report.sources += in_sources
    result: dict[str, Any] = {"thread_id": case.thread_id, "channel_id": case.channel_id, "sources": in_sources}
    if answerer is not None:
        answer = await answerer.answer(case.question, scope)
        units = {s.unit.unit_id: s.unit for s in answer.units}
        cited = any(case.accepted_id in units[uid].message_ids for uid in answer.cited_unit_ids if uid in units)
        report.cited += cited
        report.abstained += answer.abstained
        result |= {"cited": cited, "abstained": answer.abstained}
    report.cases.append(result)
