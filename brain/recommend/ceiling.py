"""Diagnostic ceilings of the offline protocol: rankers that peek at the evaluation period.

The hybrid ranks, at the split, every thread of the next weeks from its opening message alone. To
see which missing knowledge limits it, :func:`oracle_ceilings` ranks the same candidates with
oracles that read the evaluation period itself (which no real ranker can):

- ``other repliers``: how many members other than the starter and the evaluated member replied to
  the thread (how much of a crowd it drew);
- ``present``: whether the member posted in another conversation from one hour before the thread
  opened to three hours after (were they online when it appeared);
- ``present x other repliers``: both, multiplied.

They are diagnostics, never features, and are meant for the validation split inside the training
period (the benchmark reports them there), so reading them cannot tune anything on the test period.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.store import MessageRow
from brain.recommend.candidates import select_candidates, thread_key
from brain.recommend.evaluate import make_task, ranking_metrics

PRESENT_BEFORE_S = 3600.0
PRESENT_AFTER_S = 3 * 3600.0
ORACLES = ("random", "other repliers", "present", "present x other repliers")


@dataclass(frozen=True, slots=True)
class Ceilings:
    """HR@k of each oracle in :data:`ORACLES`, and where the truth lies."""

    users: int
    hit_rate: dict[str, float]
    truth_opened_after_split: float  # share of truth threads opened after the split


def oracle_ceilings(
    messages: Sequence[MessageRow],
    split: float,
    *,
    until: float | None = None,
    k: int = 10,
    lookback_days: float = 14.0,
    seed: int = 0,
) -> Ceilings:
    """HR@k of the oracles over the task of :func:`~brain.recommend.evaluate.make_task`.

    Ties (most candidates score 0) are broken by a seeded random order, the same for every oracle.
    Messages at or after ``until`` are never read.
    """
    task = make_task(messages, split, until=until, lookback_days=lookback_days)
    period = sorted(
        (m for m in messages if m.ts >= split and (until is None or m.ts < until) and not m.is_bot and m.author_id),
        key=lambda m: m.ts,
    )
    starters = {t.thread_id: t.author_id for t in task.catalogue}
    repliers: dict[str, set[str]] = defaultdict(set)
    posts: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for m in period:
        key = thread_key(m)
        posts[m.author_id].append((m.ts, key))
        if key in starters and m.author_id != starters[key]:
            repliers[key].add(m.author_id)
    rng = np.random.default_rng(seed)
    hits: dict[str, list[float]] = {name: [] for name in ORACLES}
    after = opened_after = 0
    for user in sorted(task.truth):
        truth = task.truth[user]
        cands = select_candidates(task.catalogue, user, readable_channels=None, active_since=0.0, exclude_joined=False)
        ids = [c.thread_id for c in cands]
        tie = rng.random(len(cands)) * 1e-3
        crowd = np.array([len(repliers.get(t, set()) - {user}) for t in ids], dtype=np.float64)
        present = np.array(
            [_present(posts.get(user, []), c.ts_start, c.thread_id) if c.ts_start >= split else 0.0 for c in cands]
        )
        scores: dict[str, npt.NDArray[np.float64]] = {
            "random": tie,
            "other repliers": crowd + tie,
            "present": present + tie,
            "present x other repliers": present * crowd + present + tie,
        }
        for name in ORACLES:
            order = np.argsort(-scores[name], kind="stable")
            hits[name].append(ranking_metrics([ids[i] for i in order], truth, k)[0])
        after += sum(1 for c in cands if c.thread_id in truth and c.ts_start >= split)
        opened_after += len(truth)
    return Ceilings(
        len(task.truth),
        {name: float(np.mean(v)) if v else 0.0 for name, v in hits.items()},
        after / opened_after if opened_after else 0.0,
    )


def _present(posts: Sequence[tuple[float, str]], ts: float, thread: str) -> float:
    """1 when the member posted outside ``thread`` within the presence window around ``ts``
    (``posts`` in time order)."""
    start = bisect_left(posts, (ts - PRESENT_BEFORE_S, ""))
    for t, key in posts[start:]:
        if t > ts + PRESENT_AFTER_S:
            break
        if key != thread:
            return 1.0
    return 0.0
