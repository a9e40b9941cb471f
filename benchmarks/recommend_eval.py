"""Thread recommendation quality on the real exports (protocol of ``shared/data/README.md``).

    nice python -m benchmarks.recommend_eval [--datasets slack-pythondev-2019,...] [--k 10] [--no-write]

Each full export is imported by the production importer (``guildhall import slack-export`` /
``discord-export`` code path) into a temporary SQLite store, read back, and evaluated by
:func:`brain.recommend.evaluate.evaluate`: split at 70 % of messages, members with >= 5 messages
before the split, truth = threads they replied to after the split without starting them. Hybrid
weights are learned on a validation split inside the training period; the same method and
settings run on every dataset. Message vectors (MiniLM) are cached in ``data/bench_cache``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import markdown_table, write_section
from bot.store import MessageRow
from brain.recommend.ceiling import ORACLES, Ceilings, oracle_ceilings
from brain.recommend.content import DiskVectorCache
from brain.recommend.evaluate import MethodResult, evaluate, message_vectors_needed, split_time

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "data" / "bench_cache"
SHARED = Path(os.environ.get("GUILDHALL_SHARED_DATA", ROOT.parent / "shared" / "data"))
DATASETS = ("slack-pythondev-2019", "slack-racket", "irc-ubuntu-train", "discord-gitter-appium")


def export_path(name: str) -> Path:
    """The full (not ``-noq``) export of a dataset."""
    zipped = SHARED / f"{name}.zip"
    return zipped if zipped.exists() else SHARED / f"{name}.json"


async def import_messages(path: Path) -> list[MessageRow]:
    """Import an export through the production importer into a temporary store; all messages back."""
    from bot.app import build_app
    from bot.config import Settings
    from bot.importers.discord_export import import_discord_export
    from bot.importers.slack_export import import_slack_export

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.model_validate({"store": {"url": f"sqlite:///{tmp}/store.db"}})
        app = await build_app(settings, brains=[], with_core=False)
        await app.start()
        try:
            if path.suffix == ".zip":
                summary = await import_slack_export(path, app.bus, progress=False)
            else:
                summary = await import_discord_export([path], app.bus, progress=False)
            await app.bus.drain()
            if summary.errors:
                raise RuntimeError(f"import of {path.name} failed: {summary.errors[:3]}")
            return [m async for m in app.store.iter_messages()]
        finally:
            await app.stop()


# One-off exploration on slack-pythondev-2019 before fixing the method, kept so the choice is documented.
EXPLORATION = (
    "Variants tried on slack-pythondev-2019 (HR@10 on the validation split inside the training period / on the "
    "test split, 81 / 91 members, so ±0.04 is noise): single signals with threads opened after the split ranked "
    "first: activity prior 0.25 / 0.11, content 0.14 / 0.14, CF 0.14 / 0.07, reply affinity 0.12 / 0.14, a "
    "reply-likelihood model of the opening message (logistic regression on MiniLM + '?' + length) 0.11 / 0.12, "
    "k-NN content (mean of the 5 best message similarities) 0.14 / 0.10; activity prior over hour of day instead "
    "of hour of week, replies only, 14-day decay, other smoothing: 0.16-0.27 / 0.11-0.25 with no consistent "
    "winner; pairwise (RankNet-style) instead of pointwise weight learning 0.19-0.24 / 0.13-0.15; forcing new "
    "threads first 0.25 / 0.18. None separated from the shipped hybrid beyond noise, so the simplest was kept. "
    "The catalogue here is every conversation (including the ~37 % that never get a reply, which cannot be "
    "known when a thread opens), about twice the pool of the README's narrower protocol (0.19 / 0.25 there)."
)

# Second round (issue #6 follow-up), HR@10 on slack-pythondev-2019: "validation" = ranker fitted on a split at
# 70 % of the part before the validation split and scored on the validation period; "test" = fitted on the
# validation period (as shipped) and scored on the test period. One-off scripts, not part of the benchmark.
EXPLORATION_2 = (
    "Second round, same notation (the ranker fitted one period earlier for the validation figure): the 7 shipped "
    "signals by logistic regression 0.198 / 0.165; plus 17 more (opening length, code block, link, the opener's "
    "earlier threads and share of them answered, the opener's message count, days from the split to the opening, "
    "the community's activity at that hour of week, the member's days since last message, messages in the last 7 / "
    "30 days, share of replies to others' threads, threads replied to in 30 days, recency-weighted co-repliers in "
    "the thread, the starter's replies to the member, k-NN content over the member's last 100 messages) 0.235 / "
    "0.176; plus content against the openings of threads the member replied to (k-NN, max, mean profile) 0.235 / "
    "0.165. Non-linear rankers (pointwise, class-balanced gradient-boosted trees, scikit-learn "
    "HistGradientBoosting): the 7 signals standardised per list and raw, depth 2 0.296 / 0.176, depth 3 0.259 / "
    "0.176; all 24 features 0.247 / 0.165 (28 with the replied-to content, 100 rounds: 0.235 / 0.176); raw features"
    " with the member-level and timing ones 0.222 / 0.231; positives weighted per member 0.185 / 0.121; a small "
    "numpy GBDT with the same shape 0.173-0.259 / 0.110-0.154. Fitting on three validation cuts (50, 60, 70 % of "
    "the training period) instead of one, to steady the fit: logistic regression 0.210 / 0.165, GBDT depth 2 0.185 "
    "/ 0.132, numpy GBDT 0.173-0.185 / 0.176-0.187 - the depth-2 GBDT's validation gain was an artefact of one "
    "small fit. On slack-racket (32 / 30 members) the same GBDT went 0.250 / 0.267 against logistic regression's "
    "0.250 / 0.167, and on discord-gitter-appium (29 / 35 members) 0.000 / 0.029 against 0.069 / 0.000. Single new "
    "signals among threads opened after the split: k-NN over openings the member replied to 0.148 / 0.132, "
    "co-repliers 0.148 / 0.088, the starter's replies to the member 0.123 / 0.132, the opener's answered share "
    "0.062 / 0.088, opening length 0.136 / 0.066 (random about 0.05-0.09). A thread-level model of how many members"
    " will reply (ridge on MiniLM of the opening, the opener's history, hour of week, length, code, '?') reaches "
    "Spearman 0.10 with the true count on the validation period. An activity prior over distinct active hours "
    "instead of message counts (a burst of 30 messages counts once): activity alone 0.235 / 0.176, hybrid 0.185 / "
    "0.132 (slack-racket hybrid 0.281 / 0.167 against 0.250 / 0.167). Nothing beat the shipped logistic regression "
    "beyond noise on both splits, so it stays."
)

EXPLORATION_3 = (
    "Third round (2026-12-04, same notation; scripts outside the repository on the shipped ranker's scores): "
    "spreading the top 10 over time (greedy over the hybrid order: skip a candidate within H = 2-48 h of a pick, "
    "or at most 1-3 picks per UTC day), the setting chosen on the four validation splits pooled (1 per day, 0.166 "
    "-> 0.206 over 175 members), on test: pythondev 0.165 -> 0.132, racket 0.133 -> 0.133, irc-ubuntu 0.130 -> "
    "0.074, discord-gitter-appium 0.000 -> 0.000. The hybrid's top 10 already covers 5-10 distinct days spread "
    "over weeks (freshness is equal for every thread opened after the split), so there was little clustering to "
    "remove; not shipped. After the shipped MMR re-rank (the exploration slot never fires on these single-channel "
    "exports), validation / test: pythondev 0.247 / 0.154, racket 0.312 / 0.133, irc-ubuntu 0.091 / 0.148, "
    "discord-gitter-appium 0.103 / 0.086 - within noise of the figures before it."
)

NARROW = (
    "The README's narrower reference protocol, for comparison with its published figures (MiniLM profile "
    "0.187, MiniLM + hour-of-week activity prior 0.253 on pythondev-help 2019, measured on the source files): "
    "candidates and truth only among conversations opened after the split that end up with two or more "
    "members; everything else as above, weights learned on the validation split under the same protocol "
    "(`evaluate(..., narrow=True)`). Our content-only ranker is the reference's MiniLM profile method."
)

CEILINGS = (
    "Why 0.30 is out of reach for a ranker that sees only the history and each thread's opening message: oracles "
    "that peek at the evaluation period, on the validation split inside the training period (never the test period;"
    " `brain/recommend/ceiling.py`). 'other repliers' ranks by how many other members replied to the thread, "
    "'present' by whether the member posted elsewhere from 1 h before to 3 h after the thread opened; ties in "
    "random order. Nearly every truth thread opens after the split, so the task is to guess, weeks ahead, which new"
    " threads a member will be online for and pick up. On slack-pythondev-2019 each oracle alone reaches the target"
    " that the hybrid misses, but neither quantity is predictable from what the ranker may see: a thread's crowd "
    "from its opening message, opener and hour only with Spearman 0.10 (second round, below), and the member's "
    "presence only through the hour-of-week prior, which ranks alone at 0.11-0.25."
)


def run_dataset(name: str, embedder: Any, *, k: int) -> dict[str, Any]:
    """Import, embed (cached) and evaluate one dataset."""
    started = time.perf_counter()
    messages = asyncio.run(import_messages(export_path(name)))
    import_s = time.perf_counter() - started
    split = split_time(messages, 0.7)
    cache = DiskVectorCache(CACHE / f"recommend-{name}.npz")
    t = time.perf_counter()
    vecs = cache.vectors(message_vectors_needed(messages, split), embedder, checkpoint=True)
    cache.save()
    embed_s = time.perf_counter() - t
    t = time.perf_counter()
    results, weights = evaluate(messages, vecs, split=split, k=k)
    eval_s = time.perf_counter() - t
    narrow, narrow_weights = evaluate(messages, vecs, split=split, k=k, narrow=True)
    train = [m for m in messages if m.ts < split]
    ceilings = oracle_ceilings(train, split_time(train, 0.7), until=split, k=k)
    return {
        "dataset": name,
        "messages": len(messages),
        "results": results,
        "weights": weights.weights,
        "narrow": narrow,
        "narrow_weights": narrow_weights.weights,
        "ceilings": ceilings,
        "import_s": import_s,
        "embedded": cache.computed,
        "embed_s": embed_s,
        "eval_s": eval_s,
    }


def _summary_rows(runs: list[dict[str, Any]], key: str = "results") -> list[list[object]]:
    rows: list[list[object]] = []
    for run in runs:
        results: list[MethodResult] = run[key]
        for r in results:
            rows.append([run["dataset"], r.method, r.users, r.hit_rate, r.ndcg, r.mrr, r.coverage, r.diversity])
    return rows


def _ceiling_rows(runs: list[dict[str, Any]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for run in runs:
        c: Ceilings = run["ceilings"]
        rows.append([run["dataset"], c.users, *(c.hit_rate[name] for name in ORACLES), c.truth_opened_after_split])
    return rows


def _targets(runs: list[dict[str, Any]]) -> list[str]:
    lines = []
    for run in runs:
        by = {r.method: r for r in run["results"]}
        best_np = max(by[m].ndcg for m in ("random", "popularity", "recent-activity"))
        ratio = f"{by['hybrid'].ndcg / best_np:.2f}x" if best_np else "n/a: every non-personal baseline is 0"
        lines.append(
            f"- {run['dataset']}: hybrid HR@10 {by['hybrid'].hit_rate:.3f} (target >= 0.30 on pythondev), "
            f"nDCG@10 {by['hybrid'].ndcg:.3f} vs best non-personal {best_np:.3f} ({ratio}; target >= 1.3x)"
        )
    return lines


def main(argv: list[str]) -> int:
    """Run the evaluation on the chosen datasets and write the report section."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    names = [n for n in args.datasets.split(",") if n]
    missing = [n for n in names if not export_path(n).exists()]
    if missing:
        print(f"skipped: evaluation data not found for {', '.join(missing)} under {SHARED}")
        names = [n for n in names if n not in missing]
        if not names:
            return 0
    from brain.qa.embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    runs = []
    for name in names:
        run = run_dataset(name, embedder, k=args.k)
        runs.append(run)
        print(
            markdown_table(
                ["dataset", "method", "users", "HR@10", "nDCG@10", "MRR", "coverage", "ILD"], _summary_rows([run])
            )
        )
        print(
            f"weights {run['weights']}; import {run['import_s']:.0f} s, embedded {run['embedded']} "
            f"in {run['embed_s']:.0f} s, eval {run['eval_s']:.0f} s",
            flush=True,
        )
    if args.no_write:
        return 0
    body = "\n".join(
        [
            "Protocol: full export imported with the production importer; split at 70 % of messages; members "
            "with >= 5 messages before the split; truth = threads (conversations, including ones opened after "
            "the split) they replied to after the split without starting them. Candidates: every conversation "
            "active in the 14 days before the split plus every one opened after it (known by its opening "
            "message), excluding the member's own (threads the member already joined stay candidates, as the "
            "protocol's truth counts replies to them; the live digest leaves them out, and nearly every truth "
            "thread opens after the split anyway: last column of the ceilings table below). Hybrid = "
            "standardised content (MiniLM profile, 14-day half-life) + implicit ALS with biases + hour-of-week "
            "activity prior + freshness + popularity + "
            "reply affinity + question flag, weights learned by logistic regression on a validation split at "
            "70 % of the training period (never the test period). Same method and settings on every dataset. "
            "Coverage = share of the catalogue appearing in any top-10; ILD = mean pairwise cosine distance "
            "within a top-10 list. Ranking metrics are before MMR/exploration re-ranking. The ranker sees "
            "conversations as the live brain does: a channel's unthreaded messages are cut into conversation "
            "windows (a 30-minute silence or 12 messages end one: the QA index's windows), while the truth stays "
            "the export's gold conversations, so a window competes as a candidate but is never a truth item. "
            "Before windows (run of 2026-11-23, every unthreaded message an item of its own) hybrid HR@10 was "
            "0.165 / 0.167 / 0.111 / 0.000 on the four datasets in table order: one member more or fewer either way.",
            "",
            markdown_table(
                ["dataset", "method", "users", "HR@10", "nDCG@10", "MRR", "coverage", "ILD"], _summary_rows(runs)
            ),
            "",
            *_targets(runs),
            "",
            NARROW,
            "",
            markdown_table(
                ["dataset", "method", "users", "HR@10", "nDCG@10", "MRR", "coverage", "ILD"],
                _summary_rows(runs, "narrow"),
            ),
            "",
            CEILINGS,
            "",
            markdown_table(
                ["dataset", "users (validation)", *(f"{name} HR@10" for name in ORACLES), "truth opened after split"],
                _ceiling_rows(runs),
            ),
            "",
            EXPLORATION,
            "",
            EXPLORATION_2,
            "",
            EXPLORATION_3,
            "",
            "Learned hybrid weights per dataset: " + "; ".join(f"{r['dataset']} {r['weights']}" for r in runs),
            "",
            "Reproduce: `nice .venv/bin/python -m benchmarks.recommend_eval` (or `guildhall eval recommend "
            "--split-frac 0.7` on an imported store).",
        ]
    )
    write_section("recommend_eval", "Thread recommendation (real data)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
