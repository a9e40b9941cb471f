"""Blend content, collaborative, activity, freshness and social signals into one score.

Weights are a logistic regression over standardised features, learned on a time-based validation
split carved from training data only (see :mod:`brain.recommend.evaluate`); :data:`DEFAULT_WEIGHTS`
were learned that way on the pythondev training split and serve until a community learns its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FEATURES = ("content", "cf", "activity", "freshness", "popularity", "social", "question")

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Features:
    """The signals for one (member, thread) pair, before standardisation."""

    content: float = 0.0
    cf: float = 0.0
    activity: float = 0.0
    freshness: float = 0.0
    popularity: float = 0.0
    social: float = 0.0
    question: float = 0.0

    def as_array(self) -> F64:
        """In :data:`FEATURES` order."""
        return np.array([getattr(self, name) for name in FEATURES], dtype=np.float64)


def standardise(x: F64) -> F64:
    """Z-score each feature within one member's candidate list: only the order within a list
    matters, and members differ wildly in scale (a helper's CF scores, a newcomer's empty profile)."""
    if len(x) == 0:
        return x
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0
    return (x - x.mean(axis=0)) / sd  # type: ignore[no-any-return]


@dataclass
class RankerWeights:
    """A linear model over per-list standardised features."""

    weights: dict[str, float]

    def score_matrix(self, x: F64) -> F64:
        """Scores of one member's candidate rows (columns in :data:`FEATURES` order)."""
        w = np.array([self.weights.get(n, 0.0) for n in FEATURES])
        return standardise(x) @ w  # type: ignore[no-any-return]

    def only(self, name: str) -> RankerWeights:
        """A single-signal ranker (for the content-only / CF-only baselines)."""
        return RankerWeights({name: 1.0})


# Learned by ``learn_weights`` on the validation split of pythondev's training period
# (``python -m benchmarks.recommend_eval`` prints the weights each dataset learns).
DEFAULT_WEIGHTS = RankerWeights(
    {"content": 0.11, "cf": 0.22, "activity": 0.6, "freshness": 1.83, "popularity": -0.59, "social": 0.03}
)


def freshness(ts_last: float, now: float, lookback_days: float) -> float:
    """1 for activity now (or later), decaying over the lookback window."""
    age_days = max(0.0, now - ts_last) / 86400.0
    return math.exp(-age_days / max(lookback_days / 2.0, 1e-6))


def learn_weights(
    lists: Sequence[F64], labels: Sequence[npt.NDArray[np.int_]], *, l2: float = 1e-3, steps: int = 300, lr: float = 0.5
) -> RankerWeights:
    """Fit a class-balanced logistic regression (full-batch gradient descent) on per-list
    standardised features; one ``(rows, labels)`` pair per member."""
    if not lists:
        return DEFAULT_WEIGHTS
    z = np.vstack([standardise(x) for x in lists])
    y = np.concatenate(labels).astype(np.float64)
    pos = y == 1
    sample_w = np.where(pos, 0.5 / max(pos.sum(), 1), 0.5 / max((~pos).sum(), 1))
    w = np.zeros(z.shape[1])
    b = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        g = (p - y) * sample_w
        w -= lr * (z.T @ g + l2 * w)
        b -= lr * float(g.sum())
    return RankerWeights({n: round(float(v), 4) for n, v in zip(FEATURES, w, strict=True)})


def rank(ids: Sequence[str], scores: F64) -> list[tuple[str, float]]:
    """Ids sorted by score, best first (ties by id, so results are deterministic)."""
    order = sorted(range(len(ids)), key=lambda i: (-float(scores[i]), ids[i]))
    return [(ids[i], float(scores[i])) for i in order]
