"""Implicit-feedback matrix factorisation with biases: r = u·v + b_u + b_i + μ.

Our own weighted ALS in numpy (Hu, Koren & Volinsky 2008, with bias terms folded into the factor
matrices): communities have a few thousand members and threads, so dense per-row solves are fast
and avoid a compiled dependency. Threads that appear after training are folded in from their
starter's earlier threads, because a fresh thread has no participants yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


class ImplicitMF:
    """Factor a member × thread participation matrix (counts → confidence ``1 + alpha·count``)."""

    def __init__(
        self, factors: int = 16, *, reg: float = 0.1, alpha: float = 10.0, iterations: int = 8, seed: int = 0
    ) -> None:
        self.factors = factors
        self.reg = reg
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed
        self.users: dict[str, int] = {}
        self.items: dict[str, int] = {}
        self.mu = 0.0
        self.user_factors: F64 = np.zeros((0, factors))
        self.item_factors: F64 = np.zeros((0, factors))
        self.user_bias: F64 = np.zeros(0)
        self.item_bias: F64 = np.zeros(0)

    def fit(self, interactions: Iterable[tuple[str, str, float]]) -> ImplicitMF:
        """Learn from ``(user, item, count)`` triples (repeats add up)."""
        counts: dict[tuple[str, str], float] = {}
        for user, item, n in interactions:
            counts[(user, item)] = counts.get((user, item), 0.0) + n
        self.users = {u: i for i, u in enumerate(sorted({u for u, _ in counts}))}
        self.items = {t: i for i, t in enumerate(sorted({t for _, t in counts}))}
        n_users, n_items, k = len(self.users), len(self.items), self.factors
        # Sparse: only observed cells are stored; unobserved ones have preference 0, confidence 1.
        by_user: list[list[tuple[int, float]]] = [[] for _ in range(n_users)]
        by_item: list[list[tuple[int, float]]] = [[] for _ in range(n_items)]
        for (u, t), n in counts.items():
            ui, ti = self.users[u], self.items[t]
            by_user[ui].append((ti, self.alpha * n))
            by_item[ti].append((ui, self.alpha * n))
        extra = sum(a for row in by_user for _, a in row)
        # μ = Σ c·p / Σ c over the full matrix, as if it were dense.
        self.mu = float((len(counts) + extra) / (n_users * n_items + extra)) if counts else 0.0
        user_rows, item_rows = _rows(by_user), _rows(by_item)
        rng = np.random.default_rng(self.seed)
        x = rng.normal(0, 0.01, (n_users, k))
        y = rng.normal(0, 0.01, (n_items, k))
        bu, bi = np.zeros(n_users), np.zeros(n_items)
        for _ in range(self.iterations):
            x, bu = _solve(user_rows, y, self.mu + bi, self.reg)
            y, bi = _solve(item_rows, x, self.mu + bu, self.reg)
        self.user_factors, self.item_factors, self.user_bias, self.item_bias = x, y, bu, bi
        return self

    def score(self, user: str, item: str, *, fallback_items: Iterable[str] = ()) -> float:
        """Predicted preference; an unseen item is folded in as the mean of ``fallback_items``
        (e.g. the starter's earlier threads); unknown members get μ + item bias."""
        iv, ib = self._item(item, fallback_items)
        u = self.users.get(user)
        if u is None:
            return self.mu + ib
        return float(self.user_factors[u] @ iv + self.user_bias[u] + ib + self.mu)

    def _item(self, item: str, fallback_items: Iterable[str]) -> tuple[F64, float]:
        i = self.items.get(item)
        if i is not None:
            return self.item_factors[i], float(self.item_bias[i])
        rows = [self.items[t] for t in fallback_items if t in self.items]
        if not rows:
            return np.zeros(self.factors), 0.0
        return self.item_factors[rows].mean(axis=0), float(self.item_bias[rows].mean())


Rows = list[tuple[npt.NDArray[np.int_], F64]]


def _rows(cells: list[list[tuple[int, float]]]) -> Rows:
    """Per row: observed column indices and their extra confidence ``alpha·count``."""
    return [
        (np.array([c for c, _ in row], dtype=np.int_), np.array([a for _, a in row], dtype=np.float64)) for row in cells
    ]


def _solve(rows: Rows, other: F64, offset: F64, reg: float) -> tuple[F64, F64]:
    """Per-row weighted ridge regression of ``p - offset`` on ``[other, 1]`` (factors and bias),
    where ``p`` is 1 on a row's observed columns and 0 elsewhere with confidence ``1 + alpha·n``
    on observed cells and 1 on the rest.

    Uses Hu et al.'s identity ``DᵀCD = DᵀD + Dᵢᵀ(Cᵢ − 1)Dᵢ`` so each row costs its observed
    cells only, never the full member × thread matrix.
    """
    design = np.hstack([other, np.ones((other.shape[0], 1))])
    k1 = design.shape[1]
    gram = design.T @ design + reg * np.eye(k1)
    base = -(design.T @ offset)  # Dᵀ(0 − offset): every column unobserved
    out = np.zeros((len(rows), k1))
    for r, (idx, extra) in enumerate(rows):
        d = design[idx]
        target = 1.0 - offset[idx]
        a = gram + (d.T * extra) @ d
        # Observed columns: preference 1 instead of 0 (Dᵢᵀ·1), weighted by the full confidence.
        rhs = base + d.T @ np.ones(len(idx)) + (d.T * extra) @ target
        out[r] = np.linalg.solve(a, rhs)
    return out[:, :-1], out[:, -1]


def participation_counts(rows: Mapping[tuple[str, str], int]) -> list[tuple[str, str, float]]:
    """``{(user, thread): messages}`` → triples for :meth:`ImplicitMF.fit`."""
    return [(u, t, float(n)) for (u, t), n in rows.items()]
