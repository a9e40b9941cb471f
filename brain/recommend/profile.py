"""Member interest profiles: a time-decayed blend of the embeddings of what a member touched.

Pure functions over vectors and timestamps so the live brain and the offline evaluation build
profiles the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from bot.ml import Vector

# What the member wrote says more about them than what they merely reacted to.
KIND_WEIGHTS: dict[str, float] = {"wrote": 1.0, "replied": 0.8, "reacted": 0.4}


def decay_weights(timestamps: Sequence[float], now: float, half_life_days: float) -> npt.NDArray[np.float64]:
    """Exponential decay ``0.5 ** (age / half_life)``; future timestamps count as age 0."""
    ages = np.maximum(0.0, now - np.asarray(timestamps, dtype=np.float64)) / 86400.0
    return np.power(0.5, ages / half_life_days)


def build_profile(
    vectors: Vector,
    timestamps: Sequence[float],
    kinds: Sequence[str],
    *,
    now: float,
    half_life_days: float,
) -> Vector | None:
    """The member's interest vector (L2-normalised), or None when they touched nothing.

    Args:
        vectors: One embedding per item the member wrote / replied to / reacted to (rows).
        timestamps: When the member interacted with each item (epoch seconds).
        kinds: ``wrote`` / ``replied`` / ``reacted`` per row (unknown kinds weigh 0.5).
        now: Reference time; newer interactions weigh more.
        half_life_days: Age at which an interaction counts half.
    """
    if len(vectors) == 0:
        return None
    weights = decay_weights(timestamps, now, half_life_days) * np.array([KIND_WEIGHTS.get(k, 0.5) for k in kinds])
    blended = (np.asarray(vectors, dtype=np.float64) * weights[:, None]).sum(axis=0)
    return _normalise(blended)


def cold_start_profile(channel_vectors: Vector, popular_vectors: Vector) -> Vector | None:
    """A profile for a member with no history: the joined channels' centroids and the community's
    popular threads, half and half (either part may be empty)."""
    parts = [np.asarray(v, dtype=np.float64).mean(axis=0) for v in (channel_vectors, popular_vectors) if len(v)]
    if not parts:
        return None
    return _normalise(np.mean(parts, axis=0))


def _normalise(vec: npt.NDArray[np.float64]) -> Vector | None:
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:
        return None
    return (vec / norm).astype(np.float32)


def decayed_update(
    total: Vector | None, last_ts: float, vec: Vector, ts: float, *, weight: float, half_life_days: float
) -> tuple[Vector, float]:
    """Fold one interaction into a running (unnormalised) profile sum.

    The stored sum is decayed to the newer of the two times first, so the result equals
    :func:`build_profile`'s weighting without keeping every vector.
    """
    now = max(ts, last_ts)
    new = np.asarray(vec, dtype=np.float64) * weight * float(np.power(0.5, (now - ts) / 86400.0 / half_life_days))
    if total is not None:
        new = new + np.asarray(total, dtype=np.float64) * float(
            np.power(0.5, (now - last_ts) / 86400.0 / half_life_days)
        )
    return new.astype(np.float32), now


def normalised(total: Vector | None) -> Vector | None:
    """The unit-length profile of a running sum (None when empty)."""
    if total is None:
        return None
    return _normalise(np.asarray(total, dtype=np.float64))
