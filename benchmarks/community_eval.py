"""Community behaviour replayed on the real chats: human first, abstain rate, citations, expert routing.

    nice python -m benchmarks.community_eval [--datasets a,b] [--answers 20] [--wait-min 10]

Same method on every dataset in ``../shared/data``:

* **Human first.** Every thread root or lone message that :func:`brain.community.signals.is_question`
  accepts is a question the bot would consider. If another member replied within ``--wait-min``
  minutes, a human answered first and the bot stays silent. Otherwise the bot would answer.
* **Answers.** For a seeded sample of the bot's turns that have a gold conversation (``qa.jsonl``), the
  production answerer (hybrid retrieval, the configured LLM, grounding) answers over the ``-noq``
  index (the question itself removed, as in the QA protocol); we report the abstain rate and how often
  the citations include the conversation that actually answered. ``retrieval@k`` gives the same
  figure for every bot turn without the LLM (would the gold thread be among the sources shown).
* **Expert routing.** For every gold question, experts are ranked from the question's embedding
  neighbours among threads that ended *before* the question (time-respecting), crediting their
  repliers (:mod:`brain.community.experts`); hit@5 = one of the real answerers is suggested. The
  baseline suggests the 5 most active members before the question.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import Counter, defaultdict, deque
from typing import Any

from benchmarks.embedding_cache import CachingEmbedder
from benchmarks.qa_datasets import DATASETS, _discord, _slack, load
from benchmarks.qa_retrieval import CACHE, SHARED, index_dataset
from benchmarks.report import markdown_table, write_section
from bot.config import Settings
from bot.store import MessageRow
from brain.community.experts import ThreadCredit, most_active, rank_experts
from brain.community.signals import is_question
from brain.qa.access import AccessScope
from brain.qa.embedder import SentenceTransformerEmbedder
from brain.qa.retriever import Retriever


def conversations(messages: list[MessageRow]) -> dict[str, list[MessageRow]]:
    """Messages grouped by conversation (thread id, or the message itself), oldest first."""
    groups: dict[str, list[MessageRow]] = defaultdict(list)
    for m in sorted(messages, key=lambda m: m.ts):
        groups[m.thread_id or m.message_id].append(m)
    return groups


def human_first(groups: dict[str, list[MessageRow]], wait_s: float) -> tuple[int, int, list[MessageRow]]:
    """(questions considered, answered by a human within the wait, the bot's turns)."""
    considered = answered = 0
    bot_turns: list[MessageRow] = []
    for conv_id, msgs in groups.items():
        root = msgs[0]
        if root.message_id != conv_id or not is_question(root.text):
            continue
        considered += 1
        first_other = next((m.ts for m in msgs[1:] if m.author_id != root.author_id), None)
        if first_other is not None and first_other - root.ts <= wait_s:
            answered += 1
        else:
            bot_turns.append(root)
    return considered, answered, bot_turns


async def evaluate_dataset(
    name: str, base: SentenceTransformerEmbedder, answers: int, wait_min: float, seed: int
) -> dict[str, Any]:
    noq = load(SHARED, name)
    full_path = SHARED / (f"{name}.zip" if noq.platform == "slack" else f"{name}.json")
    full_msgs = _slack(full_path, name)[1] if noq.platform == "slack" else _discord(full_path)[1]
    groups = conversations(full_msgs)
    considered, human, bot_turns = human_first(groups, wait_min * 60)
    gold_by_root = {str(q.get("question_ts") or q.get("question_id")): q for q in noq.questions}
    embedder = CachingEmbedder(base, CACHE / f"{name}.npz")
    out: dict[str, Any] = {
        "dataset": name,
        "questions": considered,
        "human_first": human / max(considered, 1),
        "bot_turns": len(bot_turns),
    }
    with tempfile.TemporaryDirectory() as tmp:
        indexed = await index_dataset(noq, embedder, tmp)
        store, retriever = indexed.store, indexed.retriever
        scope = AccessScope(noq.platform, noq.workspace_id)
        settings = Settings()

        # Retrieval@k over every bot turn with a gold conversation.
        gold_turns = [(r, gold_by_root[r.message_id]) for r in bot_turns if r.message_id in gold_by_root]
        hits = 0
        for root, gold in gold_turns:
            found = await retriever.search(root.text, scope, k=settings.qa.k)
            answer_ids = set(map(str, gold["answer_ids"]))
            hits += any(answer_ids & set(s.unit.message_ids) for s in found)
        out["gold_bot_turns"] = len(gold_turns)
        out["retrieval_at_k"] = hits / max(len(gold_turns), 1)

        # The full answer pipeline on a seeded sample.
        out.update(await _answer_sample(gold_turns, retriever, embedder, scope, settings, answers, seed))

        # Expert routing, time-respecting.
        out.update(await _experts(noq.questions, groups, retriever, scope))
        await store.close()
    return out


async def _answer_sample(
    gold_turns: list[tuple[MessageRow, dict[str, Any]]],
    retriever: Retriever,
    embedder: Any,
    scope: AccessScope,
    settings: Settings,
    answers: int,
    seed: int,
) -> dict[str, Any]:
    if answers <= 0 or not gold_turns:
        return {"sampled": 0}
    try:
        from brain.qa.answerer import Answerer
        from brain.qa.llm.factory import create_llm
    except ImportError as exc:  # the LLM backend is optional for this benchmark
        return {"sampled": 0, "llm": f"unavailable ({exc})"}
    llm = create_llm(settings.llm)
    warm = getattr(llm, "warmup", None)
    if warm is not None:
        await warm()

    async def channel_name(_: Any) -> str:
        return "#help"

    answerer = Answerer(
        retriever,
        llm,
        embedder,
        channel_name=channel_name,
        bot_name=settings.bot_name,
        k=settings.qa.k,
        min_support=settings.qa.min_support,
        max_new_tokens=settings.llm.max_new_tokens,
        fallback_channel=settings.qa.fallback_channel,
    )
    sample = random.Random(seed).sample(gold_turns, min(answers, len(gold_turns)))
    abstained = cited_gold = 0
    started = time.perf_counter()
    for root, gold in sample:
        result = await answerer.answer(root.text, scope, exclude_message_ids={root.message_id})
        answer_ids = set(map(str, gold["answer_ids"]))
        if result.abstained:
            abstained += 1
            continue
        cited = {u.unit.unit_id: u.unit for u in result.units}
        cited_msgs = (
            set().union(*(set(cited[c].message_ids) for c in result.cited_unit_ids if c in cited))
            if result.cited_unit_ids
            else set()
        )
        cited_gold += bool(cited_msgs & answer_ids)
    closer = getattr(llm, "aclose", None)
    if closer is not None:
        await closer()
    n = len(sample)
    return {
        "sampled": n,
        "abstain_rate": abstained / n,
        "cites_gold_when_answering": cited_gold / max(n - abstained, 1),
        "cites_gold_overall": cited_gold / n,
        "s_per_answer": (time.perf_counter() - started) / n,
    }


async def _experts(
    questions: list[dict[str, Any]], groups: dict[str, list[MessageRow]], retriever: Retriever, scope: AccessScope
) -> dict[str, Any]:
    by_id = {m.message_id: m for msgs in groups.values() for m in msgs}
    credits: dict[str, ThreadCredit] = {}
    ends: dict[str, float] = {}
    for conv_id, msgs in groups.items():
        asker = msgs[0].author_id
        repliers = frozenset(m.author_id for m in msgs[1:] if m.author_id != asker)
        credits[conv_id] = ThreadCredit(conv_id, asker, None, frozenset(), repliers)
        ends[conv_id] = msgs[-1].ts
    ordered = sorted(by_id.values(), key=lambda m: m.ts)
    # Time-respecting priors: conversations that ended before the question, messages before it.
    by_end = sorted(credits, key=lambda c: ends[c])
    items = []
    for q in questions:
        qid = str(q.get("question_ts") or q.get("question_id"))
        root = by_id.get(qid)
        truth = {by_id[a].author_id for a in map(str, q["answer_ids"]) if a in by_id}
        if root is not None and truth:
            items.append((root, qid, truth))
    items.sort(key=lambda x: x[0].ts)
    replied: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    window: deque[str] = deque()  # conversations that ended within the expert window
    window_s = Settings().community.expert_months * 30 * 86400
    ended = seen_msgs = 0
    hit_model = hit_base = hit_content = evaluated = 0
    for root, qid, truth in items:
        while ended < len(by_end) and ends[by_end[ended]] < root.ts:
            replied.update(credits[by_end[ended]].repliers)
            window.append(by_end[ended])
            ended += 1
        while window and ends[window[0]] < root.ts - window_s:
            replied.subtract(credits[window.popleft()].repliers)
        while seen_msgs < len(ordered) and ordered[seen_msgs].ts < root.ts:
            counts[ordered[seen_msgs].author_id] += 1
            seen_msgs += 1
        evaluated += 1
        found = await retriever.search(root.text, scope, k=50, mode="dense")
        neighbours: list[tuple[str, float]] = []
        for item in found:
            conv = item.unit.thread_id or (item.unit.message_ids[0] if item.unit.message_ids else "")
            if conv and conv != qid and root.ts - window_s <= ends.get(conv, float("inf")) < root.ts:
                neighbours.append((conv, item.score))
        share = {u: c / len(window) for u, c in replied.items() if c > 0} if window else {}
        suggested = [u for u, _ in rank_experts(neighbours, credits, exclude={root.author_id}, k=5, reply_share=share)]
        content_only = [u for u, _ in rank_experts(neighbours, credits, exclude={root.author_id}, k=5)]
        baseline = most_active(counts, exclude={root.author_id}, k=5)
        hit_model += bool(truth & set(suggested))
        hit_content += bool(truth & set(content_only))
        hit_base += bool(truth & set(baseline))
    return {
        "expert_questions": evaluated,
        "experts_hit5": hit_model / max(evaluated, 1),
        "content_only_hit5": hit_content / max(evaluated, 1),
        "most_active_hit5": hit_base / max(evaluated, 1),
    }


async def main(names: list[str], answers: int, wait_min: float, seed: int) -> None:
    base = SentenceTransformerEmbedder()
    results = []
    for name in names:
        if not (SHARED / f"{name}.gold").is_dir():
            print(f"skip {name}: not in {SHARED}")
            continue
        started = time.perf_counter()
        r = await evaluate_dataset(name, base, answers, wait_min, seed)
        r["seconds"] = time.perf_counter() - started
        print(r, flush=True)
        results.append(r)
    if not results:
        return
    rows = [
        [
            r["dataset"],
            r["questions"],
            f"{r['human_first']:.1%}",
            r["bot_turns"],
            f"{r['retrieval_at_k']:.1%} ({r['gold_bot_turns']})",
            r.get("sampled", 0),
            f"{r['abstain_rate']:.1%}" if "abstain_rate" in r else r.get("llm", "-"),
            f"{r['cites_gold_when_answering']:.1%}" if "abstain_rate" in r else "-",
            f"{r['experts_hit5']:.1%}",
            f"{r['content_only_hit5']:.1%}",
            f"{r['most_active_hit5']:.1%}",
        ]
        for r in results
    ]
    body = (
        f"Replay of the real chats with human-first rules (wait {wait_min:.0f} min); method in "
        "`benchmarks/community_eval.py`'s docstring, identical for every dataset. *human first* = share of "
        "questions a member answered within the wait (the bot stays silent); *gold in sources* = the "
        "conversation that actually answered is among the `qa.k` sources the bot would show (all bot turns "
        "with a gold conversation); *abstain* and *cites gold* come from the full answer pipeline (default "
        f"model) on a seeded sample of {answers} bot turns per dataset. Expert routing: hit@5 of the real "
        "answerers among suggested experts (similar threads smoothed with each member's share of past "
        "replies, both time-respecting), the similar-threads score alone, and the 5 most active members.\n\n"
        + markdown_table(
            [
                "dataset",
                "questions",
                "human first",
                "bot turns",
                "gold in sources",
                "sampled",
                "abstain",
                "cites gold",
                "experts hit@5",
                "similar threads only",
                "most-active hit@5",
            ],
            rows,
        )
        + "\n\nReproduce: `nice python -m benchmarks.community_eval`."
    )
    write_section("community", "Community behaviour on real chats (human first, experts)", body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--answers", type=int, default=20)
    parser.add_argument("--wait-min", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.datasets.split(","), args.answers, args.wait_min, args.seed))
