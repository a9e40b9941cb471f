"""Diversity and exploration: MMR re-ranking plus exploration slots, so digests are no filter bubble.

A share of each list (``settings.recommend.exploration_share``) goes to threads from channels the
member rarely sees, picked by Thompson sampling over each channel's click record (Beta posterior of
recommended → clicked). A fixed seed makes the whole re-ranking deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.ml import Vector


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate after scoring."""

    thread_id: str
    channel_id: str
    score: float


@dataclass(frozen=True, slots=True)
class Pick:
    """A chosen item; ``explore`` marks an exploration slot."""

    thread_id: str
    channel_id: str
    score: float
    explore: bool = False


def exploration_slots(k: int, share: float) -> int:
    """How many of ``k`` slots explore (at least one when the share is positive and k > 1)."""
    if share <= 0 or k <= 1:
        return 0
    return min(k - 1, max(1, round(k * share)))


def mmr(candidates: Sequence[Scored], vectors: Mapping[str, Vector], k: int, *, lam: float = 0.7) -> list[Scored]:
    """Maximal marginal relevance: trade score (``lam``) against similarity to what is chosen.

    Scores are rescaled to [0, 1] first so ``lam`` means the same for any ranker."""
    if not candidates:
        return []
    raw = np.array([c.score for c in candidates], dtype=np.float64)
    span = float(raw.max() - raw.min()) or 1.0
    rel = (raw - raw.min()) / span
    chosen: list[int] = []
    max_sim = np.zeros(len(candidates))
    remaining = set(range(len(candidates)))
    while remaining and len(chosen) < k:
        best = max(remaining, key=lambda i: (lam * rel[i] - (1 - lam) * max_sim[i], -i))
        chosen.append(best)
        remaining.discard(best)
        vec = vectors.get(candidates[best].thread_id)
        if vec is None:
            continue
        for i in remaining:
            other = vectors.get(candidates[i].thread_id)
            if other is not None:
                max_sim[i] = max(max_sim[i], float(np.dot(vec, other)))
    return [candidates[i] for i in chosen]


def rerank(
    candidates: Sequence[Scored],
    vectors: Mapping[str, Vector],
    k: int,
    *,
    share: float,
    exposure: Mapping[str, int],
    clicks: Mapping[str, tuple[int, int]],
    seed: int,
    lam: float = 0.7,
) -> list[Pick]:
    """The final list: MMR picks for ``k - slots`` and exploration picks for the rest.

    Args:
        candidates: Scored candidates, any order.
        vectors: Thread vectors for MMR similarity.
        k: List size.
        share: Exploration share (0..1).
        exposure: How often the member posted in or was shown each channel; rarely seen channels
            (below the median exposure) are the exploration pool.
        clicks: ``{channel: (shown, clicked)}`` from recommendation feedback.
        seed: Random seed (same seed, same list).
        lam: MMR trade-off.
    """
    ordered = sorted(candidates, key=lambda c: (-c.score, c.thread_id))
    slots = exploration_slots(min(k, len(ordered)), share)
    rng = np.random.default_rng(seed)
    seen = {c.channel_id: exposure.get(c.channel_id, 0) for c in ordered}
    levels = sorted(seen.values())
    median = levels[len(levels) // 2] if levels else 0
    # Rarely seen: below the median exposure, or never seen at all.
    pool_channels = sorted(ch for ch, n in seen.items() if n < median or n == 0)
    explore: list[Pick] = []
    used: set[str] = set()
    while len(explore) < slots and pool_channels:
        draws = {ch: _posterior_draw(rng, *clicks.get(ch, (0, 0))) for ch in pool_channels}
        channel = max(pool_channels, key=lambda ch: (draws[ch], ch))
        best = next((c for c in ordered if c.channel_id == channel and c.thread_id not in used), None)
        if best is None:
            pool_channels.remove(channel)
            continue
        used.add(best.thread_id)
        explore.append(Pick(best.thread_id, best.channel_id, best.score, explore=True))
    main = mmr([c for c in ordered if c.thread_id not in used], vectors, k - len(explore), lam=lam)
    return [Pick(c.thread_id, c.channel_id, c.score) for c in main] + explore


def _posterior_draw(rng: np.random.Generator, shown: int, clicked: int) -> float:
    """A draw from Beta(1 + clicks, 1 + misses): untried channels are optimistic."""
    clicked = max(0, min(clicked, shown))
    return float(rng.beta(1 + clicked, 1 + shown - clicked))
