"""Adapt the sentence encoder to one community's own history (contrastive fine-tuning, offline).

A general encoder has never seen this community's jargon, and chat answers rarely repeat the words
of the question. The community's history already holds the pairs a retriever has to match: the
opening message of a thread and what the thread went on to say. Training on those pairs with
in-batch negatives (the "multiple negatives ranking" loss: each opening must pick its own thread out
of the batch) teaches the encoder which replies answer which openings here. No labels, no network,
no other data: only threads the store already holds.

Only public channels are used: the tuned weights serve every answer, and text of private channels
or DMs must not shape what a public question can find. Measured in ``benchmarks/qa_tuning.py``.

Example::

    pairs = thread_pairs(messages, channels)
    report = fine_tune("bundled:all-MiniLM-L6-v2", pairs, Path("data/models/tuned"))
    # then: [embeddings] model = "data/models/tuned" and `guildhall index all`
"""

from __future__ import annotations

import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.store import ChannelRow, MessageRow
from brain.qa.embedder import resolve_model_path
from brain.qa.tokenize import tokenize
from brain.qa.units import DEFAULT_CONFIG, UnitConfig, build_units, embedding_text, is_indexable

# Openings longer than this are cut: a question's point is in its first lines, and the encoder
# reads 256 word pieces at most anyway.
MAX_QUERY_CHARS = 1000
# Scale of cosine similarities in the contrastive loss (sentence-transformers' default for MNRL).
SIMILARITY_SCALE = 20.0
# Batches are drawn from groups of this many batches sorted by passage length, so a batch pads to
# similar lengths (a third less compute on chat, where thread lengths vary tenfold).
_BUCKET_BATCHES = 8


@dataclass(frozen=True, slots=True)
class TrainingPair:
    """An opening message and the text of the thread that followed it, as the indexer embeds it."""

    query: str
    passage: str


@dataclass(frozen=True, slots=True)
class TuneSettings:
    """Fine-tuning hyper-parameters; the defaults are the ones measured in the benchmarks."""

    epochs: int = 1
    learning_rate: float = 3e-5
    batch_size: int = 32
    max_seq_length: int = 256
    max_pairs: int = 4000
    seed: int = 0
    device: str = "cpu"
    # Also make each passage pick its own opening out of the batch's openings (the loss averaged over
    # both directions): the same forward passes, twice the training signal.
    symmetric: bool = False
    # Add to each opening one hard negative: another thread's passage that lexical search ranks high
    # for it (see :func:`mine_hard_negatives`). In-batch negatives are mostly unrelated threads; the
    # retriever's real mistakes are threads about the same words.
    hard_negatives: bool = False


@dataclass(frozen=True, slots=True)
class TuneReport:
    """What a fine-tuning run did."""

    pairs: int
    steps: int
    epochs: int
    first_loss: float
    last_loss: float
    seconds: float
    base_model: str
    output: str

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return asdict(self)


class NotEnoughPairsError(ValueError):
    """The store holds too few answered threads to learn anything from."""


def thread_pairs(
    messages: Iterable[MessageRow],
    channels: Mapping[tuple[str, str, str], ChannelRow],
    *,
    config: UnitConfig = DEFAULT_CONFIG,
) -> list[TrainingPair]:
    """Training pairs from the threads of public channels.

    For each thread with at least one reply by someone other than its first author: the first
    message is the query and the first unit the indexer would build from the rest of the thread is
    the passage. The first message is the thread's root when it is stored, otherwise its earliest
    reply (a thread whose root was deleted still pairs its first answer with the discussion after it).

    Args:
        messages: Messages of any channels, in any order.
        channels: Channels by ``(platform, workspace_id, channel_id)``; messages of unknown or
            non-public channels are skipped.
        config: The unit sizes the indexer uses, so passages look like indexed units.
    """
    threads: dict[tuple[str, str, str], list[MessageRow]] = {}
    roots: dict[tuple[str, str, str], MessageRow] = {}
    for m in messages:
        channel = channels.get((m.platform, m.workspace_id, m.channel_id))
        if channel is None or channel.visibility != "public" or not is_indexable(m):
            continue
        if m.thread_id and m.thread_id != m.message_id:
            threads.setdefault((m.platform, m.workspace_id, m.thread_id), []).append(m)
        else:
            roots[(m.platform, m.workspace_id, m.message_id)] = m
    pairs: list[TrainingPair] = []
    for key in sorted(threads):
        replies = threads[key]
        root = roots.get(key)
        msgs = sorted([*replies, *([root] if root is not None else [])], key=lambda m: (m.ts, m.message_id))
        first, rest = msgs[0], msgs[1:]
        if not any(m.author_id != first.author_id for m in rest):
            continue
        channel = channels[(first.platform, first.workspace_id, first.channel_id)]
        units = build_units(rest, channel, config=config)
        if units:
            pairs.append(TrainingPair(first.text.strip()[:MAX_QUERY_CHARS], embedding_text(units[0])))
    return pairs


def fine_tune(
    model: str,
    pairs: list[TrainingPair],
    output: Path,
    settings: TuneSettings = TuneSettings(),
    *,
    on_step: Callable[[int, int, float], None] | None = None,
) -> TuneReport:
    """Fine-tune a sentence-transformers model on ``pairs`` and save it to ``output``.

    CPU-bound and blocking (minutes on a CPU for a few thousand pairs): run it in a worker thread or
    from the CLI. The saved directory loads with ``[embeddings] model = "<output>"``; every unit must
    then be embedded again (``guildhall index all``), as vectors of two models do not compare.

    Args:
        model: ``bundled:<name>`` or a local sentence-transformers directory to start from.
        pairs: From :func:`thread_pairs`; at most ``settings.max_pairs`` are used (a seeded sample).
        output: Directory to write the tuned model to (created).
        settings: Hyper-parameters.
        on_step: Called with (step, total steps, loss) after every optimiser step.

    Raises:
        NotEnoughPairsError: fewer pairs than two batches' worth of in-batch negatives.
    """
    needed = 2 * min(settings.batch_size, 8)
    if len(pairs) < needed:
        raise NotEnoughPairsError(f"{len(pairs)} answered threads in public channels; at least {needed} are needed")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    rng = random.Random(settings.seed)
    torch.manual_seed(settings.seed)
    chosen = list(pairs) if len(pairs) <= settings.max_pairs else rng.sample(pairs, settings.max_pairs)
    started = time.perf_counter()
    encoder: Any = SentenceTransformer(str(resolve_model_path(model)), device=settings.device, local_files_only=True)
    encoder.max_seq_length = settings.max_seq_length
    batches_per_epoch = len(_batches(chosen, settings.batch_size, random.Random(0)))
    total = settings.epochs * batches_per_epoch
    optimiser = torch.optim.AdamW(encoder.parameters(), lr=settings.learning_rate)
    warmup = max(1, total // 10)
    # Linear warm-up then linear decay: the usual schedule for fine-tuning a pre-trained encoder.
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1.0 - s / total)
    )

    def encode(texts: list[str]) -> Any:
        features = encoder.preprocess(texts) if hasattr(encoder, "preprocess") else encoder.tokenize(texts)
        features = {k: v.to(encoder.device) if hasattr(v, "to") else v for k, v in features.items()}
        return torch.nn.functional.normalize(encoder(features)["sentence_embedding"], dim=-1)

    negatives = mine_hard_negatives(chosen, random.Random(settings.seed)) if settings.hard_negatives else {}
    losses: list[float] = []
    step = 0
    encoder.train()
    for _ in range(settings.epochs):
        for batch in _batches(chosen, settings.batch_size, rng):
            queries = encode([p.query for p in batch])
            extra = [negatives[id(p)] for p in batch if id(p) in negatives]
            passages = encode([p.passage for p in batch] + extra)
            logits = queries @ passages.T * SIMILARITY_SCALE
            labels = torch.arange(len(batch), device=logits.device)
            loss = torch.nn.functional.cross_entropy(logits, labels)
            if settings.symmetric:
                # Only the batch's own passages pick an opening: a hard negative has none here.
                loss = (loss + torch.nn.functional.cross_entropy(logits[:, : len(batch)].T, labels)) / 2
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            losses.append(float(loss.item()))
            if on_step is not None:
                on_step(step, total, losses[-1])
    encoder.eval()
    output.mkdir(parents=True, exist_ok=True)
    encoder.save(str(output))
    return TuneReport(
        pairs=len(chosen),
        steps=step,
        epochs=settings.epochs,
        first_loss=round(losses[0], 4),
        last_loss=round(losses[-1], 4),
        seconds=round(time.perf_counter() - started, 1),
        base_model=model,
        output=str(output),
    )


def mine_hard_negatives(
    pairs: list[TrainingPair], rng: random.Random, *, depth: int = 10, skip: int = 2
) -> dict[int, str]:
    """For each pair (by ``id``), another pair's passage that BM25 ranks high for its query.

    The negative is drawn from ranks ``skip`` .. ``depth`` of the other passages, not the very top:
    the passages most like a query are the likeliest to be another thread answering the same
    question (a false negative that would teach the encoder to push a right answer away).
    """
    docs = [tokenize(p.passage) for p in pairs]
    df: Counter[str] = Counter(t for d in docs for t in set(d))
    n = len(docs)
    avg = sum(len(d) for d in docs) / max(n, 1)
    postings: dict[str, list[tuple[int, float]]] = {}
    for i, d in enumerate(docs):
        norm = 1.2 * (0.25 + 0.75 * len(d) / max(avg, 1.0))
        for term, tf in Counter(d).items():
            postings.setdefault(term, []).append((i, tf * 2.2 / (tf + norm)))
    out: dict[int, str] = {}
    for i, pair in enumerate(pairs):
        scores: dict[int, float] = {}
        for term in set(tokenize(pair.query)):
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            for j, w in postings.get(term, ()):
                if j != i:
                    scores[j] = scores.get(j, 0.0) + idf * w
        ranked = sorted(scores, key=lambda j: (-scores[j], j))[skip:depth]
        if ranked:
            out[id(pair)] = pairs[rng.choice(ranked)].passage
    return out


def _batches(pairs: list[TrainingPair], size: int, rng: random.Random) -> list[list[TrainingPair]]:
    """Shuffled batches of similar passage length; a last batch too small for negatives is dropped."""
    order = list(pairs)
    rng.shuffle(order)
    batches: list[list[TrainingPair]] = []
    span = size * _BUCKET_BATCHES
    for start in range(0, len(order), span):
        bucket = sorted(order[start : start + span], key=lambda p: len(p.passage))
        batches += [bucket[i : i + size] for i in range(0, len(bucket), size)]
    rng.shuffle(batches)
    return [b for b in batches if len(b) >= 4]
