"""End-to-end answer latency with the default local model (retrieve, generate <=128 tokens, verify).

    nice python -m benchmarks.qa_answer_latency [--questions 10] [--llm KEY=VALUE ...]

Indexes the first 3,000 messages of ``slack-pythondev-2019-noq`` (MiniLM, cached embeddings), then
answers gold questions about that period through :class:`brain.qa.answerer.Answerer` with the LLM
from ``brain.qa.llm.factory.create_llm`` (default settings: SmolLM2-135M-Instruct GGUF on CPU).
Needs the LLM backend package; exits with a clear message when it is not installed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time

from benchmarks.embedding_cache import CachingEmbedder
from benchmarks.qa_datasets import load
from benchmarks.qa_retrieval import CACHE, SHARED, _chroma
from benchmarks.report import markdown_table, write_section
from bot.clock import SystemClock
from bot.config import LLMSettings
from bot.ml import ChatMessage, ScoredUnit
from bot.store import open_store
from brain.qa.access import AccessScope
from brain.qa.answerer import Answerer
from brain.qa.bm25 import BM25Index
from brain.qa.embedder import SentenceTransformerEmbedder
from brain.qa.indexer import Indexer
from brain.qa.retriever import Retriever
from brain.qa.vector_index import ChromaUnitIndex


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--llm", action="append", default=[], metavar="KEY=VALUE", help="an llm.* setting")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.llm)
    try:
        from brain.qa.llm.factory import create_llm
    except ImportError:
        sys.exit("brain.qa.llm.factory is not available yet: no LLM backend to measure")
    name = "slack-pythondev-2019"
    if not (SHARED / f"{name}.gold").is_dir():
        print(f"skipped: {SHARED} not present", flush=True)
        return
    ds = load(SHARED, name)
    messages = sorted(ds.messages, key=lambda m: m.ts)[:3000]
    last_ts = messages[-1].ts
    questions = [q for q in ds.questions if float(q["question_ts"]) < last_ts][: args.questions]
    embedder = CachingEmbedder(SentenceTransformerEmbedder(), CACHE / f"{name}.npz")
    settings = LLMSettings.model_validate({"max_new_tokens": 128, **overrides})
    t = time.perf_counter()
    llm = create_llm(settings)
    # Building the backend loads nothing; the weights load on first use, or by load() (the warm-up).
    load_weights = getattr(llm, "load", None)
    if load_weights is not None:
        await load_weights()
    load_s = time.perf_counter() - t
    # Generation alone is timed on a second instance: the batcher reuses the KV cache of a recent
    # identical prompt prefix, so timing both on one instance would flatter the full answer.
    generation_llm = create_llm(settings)
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{tmp}/s.db")
        await store.upsert_channels(ds.channels)
        await store.upsert_messages(messages)
        index = ChromaUnitIndex(_chroma(f"{tmp}/chroma"), "lat", embedder.dim)
        bm25 = BM25Index()
        await Indexer(store, embedder, index, bm25, clock=SystemClock()).index_all()
        embedder.save()
        retriever = Retriever(embedder, index, bm25)

        async def channel_name(item: ScoredUnit) -> str:
            return "#pythondev-help"

        answerer = Answerer(retriever, llm, embedder, channel_name=channel_name, max_new_tokens=128)
        scope = AccessScope("slack", ds.workspace_id)
        await answerer.answer("warm up: how do I install python?", scope)
        await generation_llm.generate([ChatMessage("user", "warm up")], max_new_tokens=4)
        rows = []
        totals, gens, tokens, cpus = [], [], [], []
        for q in questions:
            t0 = time.perf_counter()
            units = await retriever.search(str(q["question"]), scope, k=6)
            t1 = time.perf_counter()
            messages_ = answerer.build_messages(str(q["question"]), units, ["#pythondev-help"] * len(units))
            gen = await generation_llm.generate(messages_, max_new_tokens=128)
            t2 = time.perf_counter()
            cpu = time.process_time()
            answer = await answerer.answer(str(q["question"]), scope)
            t3 = time.perf_counter()
            cpus.append(time.process_time() - cpu)
            totals.append(t3 - t2)
            gens.append(t2 - t1)
            tokens.append(gen.completion_tokens)
            rows.append(
                [
                    str(q["question"])[:60].replace("|", "/").replace("\n", " "),
                    f"{(t1 - t0) * 1000:.0f}",
                    f"{t2 - t1:.1f}",
                    gen.completion_tokens,
                    f"{t3 - t2:.1f}",
                    f"{cpus[-1]:.1f}",
                    "abstain" if answer.abstained else "answer",
                ]
            )
        await store.close()
    summary = (
        f"Model load (weights into memory, before any question) {load_s:.1f} s. Over {len(questions)} questions: generation p50 {statistics.median(gens):.1f} s "
        f"for p50 {statistics.median(tokens):.0f} completion tokens (max 128); full answer (retrieve + generate + "
        f"verify) p50 {statistics.median(totals):.1f} s, max {max(totals):.1f} s; CPU time per full answer p50 "
        f"{statistics.median(cpus):.1f} s (all threads; steadier than wall time on a shared machine). "
        f"Settings: {settings.model_dump(include={'model', 'cpu_threads', 'prompt_lookup_tokens', 'prefix_cache_tokens', 'cpu_half_decode'})}."
    )
    print(summary)
    if args.no_write:
        return
    write_section(
        "qa_answer_latency",
        "QA answer latency (default local model, CPU)",
        summary
        + "\n\n"
        + markdown_table(
            ["question", "retrieve ms", "generate s", "tokens", "full answer s", "CPU s", "outcome"], rows
        ),
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
