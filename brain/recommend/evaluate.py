"""Offline evaluation of thread recommendation (protocol of ``shared/data/README.md``).

Import the full export, sort by time, split at 70 % of messages (or a given time). Members with
>= 5 messages before the split are evaluated; a member's truth is the threads they replied to after
the split without having started them. The catalogue is every thread active in the lookback window
before the split plus every thread opened after it, known by its opening message only (what the
bot sees when the thread appears). Hybrid weights are learned on a validation split carved from the
training messages (again at 70 %), never on the test period.

``narrow=True`` runs the README's narrower reference protocol instead (its published MiniLM figures
were measured that way): catalogue and truth only among conversations opened after the split that
end up with at least two members. The pool is about half as large; what the ranker sees is the same.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.ml import Vector
from bot.store import MessageRow
from brain.recommend.candidates import ThreadItem, build_threads, select_candidates, thread_key
from brain.recommend.engine import Snapshot, build_snapshot, features, member_touches, opening_items
from brain.recommend.profile import build_profile
from brain.recommend.ranker import FEATURES, RankerWeights, learn_weights

METHODS = ("random", "popularity", "recent-activity", "content-only", "cf-only", "hybrid")
MIN_MESSAGES = 5
PROFILE_TOUCHES = 300  # a member's most recent interactions that form their profile


@dataclass
class Task:
    """One evaluation period: the snapshot, the catalogue and each member's truth."""

    snapshot: Snapshot
    catalogue: list[ThreadItem]
    truth: dict[str, set[str]]


@dataclass
class MethodResult:
    """Metrics of one method."""

    method: str
    users: int
    hit_rate: float
    ndcg: float
    mrr: float
    coverage: float
    diversity: float


def split_time(messages: Sequence[MessageRow], frac: float) -> float:
    """The timestamp at ``frac`` of the messages (time order)."""
    ordered = sorted(m.ts for m in messages)
    return ordered[min(len(ordered) - 1, int(len(ordered) * frac))]


def make_task(
    messages: Sequence[MessageRow],
    split: float,
    *,
    until: float | None = None,
    lookback_days: float = 14.0,
    narrow: bool = False,
    windows: bool = True,
) -> Task:
    """Snapshot before ``split``; truth from messages in ``[split, until)`` (``narrow``: the README's
    narrower protocol, see the module docstring).

    The ranker sees conversations as the live brain does (``windows``: unthreaded chat cut into
    conversation windows); the truth is the export's gold conversations (``thread_key``), so a
    window is never a truth item, only a candidate that competes with the threads."""
    snapshot = build_snapshot(messages, split, windows=windows)
    later = [m for m in messages if m.ts >= split and (until is None or m.ts < until)]
    new = opening_items(later, split, windows=windows)
    if narrow:
        # The protocol defines its pool by how the gold conversation turned out; the ranker still
        # sees only each opening message.
        grown = build_threads(later, windows=False)
        catalogue = [t for key, t in new.items() if key in grown and len(grown[key].participants) >= 2]
    else:
        since = split - lookback_days * 86400
        catalogue = [t for t in snapshot.threads.values() if t.ts_last >= since] + list(new.values())
    starters = {t.thread_id: t.author_id for t in catalogue}
    truth: dict[str, set[str]] = defaultdict(set)
    for m in later:
        key = thread_key(m)
        if key in starters and starters[key] != m.author_id and not m.is_bot:
            truth[m.author_id].add(key)
    evaluated = {u: t for u, t in truth.items() if snapshot.message_count(u) >= MIN_MESSAGES}
    return Task(snapshot, catalogue, evaluated)


def message_vectors_needed(messages: Sequence[MessageRow], split: float | None = None) -> dict[str, str]:
    """``{message id: text}`` of the messages the evaluation embeds.

    Without ``split``: every human message. With it, only what :func:`evaluate` reads: the opening
    message of every conversation and, for the test split and the validation split inside the
    training period, each member's most recent :data:`PROFILE_TOUCHES` messages before it (members
    with fewer than :data:`MIN_MESSAGES` are not profiled). Saves a third of the encoding."""
    live = [m for m in messages if not m.is_bot and m.author_id and not m.deleted]
    if split is None:
        return {m.message_id: m.text[:2000] for m in live}
    live.sort(key=lambda m: (m.ts, m.message_id))
    train = [m for m in live if m.ts < split]
    wanted: set[str] = set()
    for cut in (split, split_time(train, 0.7) if train else split):
        by_user: dict[str, list[str]] = defaultdict(list)
        for m in live:
            if m.ts < cut:
                by_user[m.author_id].append(m.message_id)
        for ids in by_user.values():
            if len(ids) >= MIN_MESSAGES:
                wanted.update(ids[-PROFILE_TOUCHES:])
    openings: dict[str, str] = {}
    for m in live:
        openings.setdefault(thread_key(m), m.message_id)
    wanted.update(openings.values())
    return {m.message_id: m.text[:2000] for m in live if m.message_id in wanted}


def _profile(task: Task, user: str, vecs: Mapping[str, Vector], half_life_days: float) -> Vector | None:
    touches = member_touches(task.snapshot, user, limit=PROFILE_TOUCHES)
    rows, stamps, kinds = [], [], []
    for t in touches:
        ref = t.ref if t.kind == "wrote" else task.snapshot.threads[t.thread].opening_message_id
        if ref in vecs:
            rows.append(vecs[ref])
            stamps.append(t.ts)
            kinds.append(t.kind)
    if not rows:
        return None
    return build_profile(np.stack(rows), stamps, kinds, now=task.snapshot.now, half_life_days=half_life_days)


def _feature_matrix(
    task: Task, user: str, vecs: Mapping[str, Vector], half_life_days: float, lookback_days: float
) -> tuple[list[ThreadItem], npt.NDArray[np.float64]]:
    cands = select_candidates(task.catalogue, user, readable_channels=None, active_since=0.0, exclude_joined=False)
    item_vecs = {c.thread_id: vecs[c.opening_message_id] for c in cands if c.opening_message_id in vecs}
    profile = _profile(task, user, vecs, half_life_days)
    return cands, features(task.snapshot, user, cands, item_vecs, profile, lookback_days=lookback_days)


def learn_task_weights(
    task: Task, vecs: Mapping[str, Vector], *, half_life_days: float, lookback_days: float
) -> RankerWeights:
    """Fit hybrid weights on a (validation) task."""
    xs, ys = [], []
    for user in sorted(task.truth):
        cands, x = _feature_matrix(task, user, vecs, half_life_days, lookback_days)
        xs.append(x)
        ys.append(np.array([1 if c.thread_id in task.truth[user] else 0 for c in cands]))
    return learn_weights(xs, ys)


def evaluate(
    messages: Sequence[MessageRow],
    vecs: Mapping[str, Vector],
    *,
    split: float,
    k: int = 10,
    half_life_days: float = 14.0,
    lookback_days: float = 14.0,
    seed: int = 0,
    narrow: bool = False,
    windows: bool = True,
) -> tuple[list[MethodResult], RankerWeights]:
    """Run every method of :data:`METHODS`; returns results and the learned hybrid weights
    (``narrow``: the README's narrower protocol, for validation and test alike; ``windows``: as in
    :func:`make_task`)."""
    train = [m for m in messages if m.ts < split]
    val_split = split_time(train, 0.7)
    weights = learn_task_weights(
        make_task(train, val_split, until=split, lookback_days=lookback_days, narrow=narrow, windows=windows),
        vecs,
        half_life_days=half_life_days,
        lookback_days=lookback_days,
    )
    task = make_task(messages, split, lookback_days=lookback_days, narrow=narrow, windows=windows)
    rng = np.random.default_rng(seed)
    rankers: dict[str, Callable[[list[ThreadItem], npt.NDArray[np.float64]], npt.NDArray[np.float64]]] = {
        "random": lambda c, x: rng.random(len(c)),
        "popularity": lambda c, x: np.array([len(t.participants) * 1e6 + t.messages for t in c], dtype=np.float64),
        "recent-activity": lambda c, x: np.array([t.ts_last for t in c], dtype=np.float64),
        "content-only": lambda c, x: x[:, FEATURES.index("content")],
        "cf-only": lambda c, x: x[:, FEATURES.index("cf")],
        "hybrid": lambda c, x: weights.score_matrix(x),
    }
    lists: dict[str, list[list[str]]] = {name: [] for name in METHODS}
    per_user: dict[str, list[tuple[float, float, float]]] = {name: [] for name in METHODS}
    for user in sorted(task.truth):
        cands, x = _feature_matrix(task, user, vecs, half_life_days, lookback_days)
        truth = task.truth[user]
        for name in METHODS:
            scores = rankers[name](cands, x)
            order = sorted(range(len(cands)), key=lambda i: (-float(scores[i]), cands[i].thread_id))
            ranked = [cands[i].thread_id for i in order]
            lists[name].append(ranked[:k])
            per_user[name].append(ranking_metrics(ranked, truth, k))
    opening = {t.thread_id: t.opening_message_id for t in task.catalogue}
    results = []
    for name in METHODS:
        m = np.array(per_user[name]) if per_user[name] else np.zeros((0, 3))
        results.append(
            MethodResult(
                name,
                len(m),
                float(m[:, 0].mean()) if len(m) else 0.0,
                float(m[:, 1].mean()) if len(m) else 0.0,
                float(m[:, 2].mean()) if len(m) else 0.0,
                len({t for lst in lists[name] for t in lst}) / max(len(task.catalogue), 1),
                intra_list_diversity(lists[name], {t: vecs[o] for t, o in opening.items() if o in vecs}),
            )
        )
    return results, weights


def ranking_metrics(ranked: Sequence[str], truth: set[str], k: int) -> tuple[float, float, float]:
    """``(hit@k, nDCG@k, reciprocal rank)`` of a ranked list against a truth set."""
    top = ranked[:k]
    hit = 1.0 if any(t in truth for t in top) else 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, t in enumerate(top) if t in truth)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(truth), k)))
    rr = next((1.0 / (i + 1) for i, t in enumerate(ranked) if t in truth), 0.0)
    return hit, (dcg / ideal if ideal else 0.0), rr


def intra_list_diversity(lists: Sequence[Sequence[str]], vecs: Mapping[str, Vector]) -> float:
    """Mean pairwise cosine distance within each list, averaged over lists."""
    values = []
    for lst in lists:
        rows = [vecs[t] for t in lst if t in vecs]
        if len(rows) < 2:
            continue
        m = np.stack(rows).astype(np.float64)
        sims = m @ m.T
        n = len(rows)
        values.append(float((n * n - sims.sum()) / (n * (n - 1))))
    return float(np.mean(values)) if values else 0.0
