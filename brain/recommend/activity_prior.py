"""Per-member hour-of-week activity prior: members answer threads that start while they are online.

The evaluation README measured it: MiniLM content alone reaches HR@10 0.19 on pythondev, 0.25 with
this prior. Counts are smoothed over neighbouring hours (activity is not sharp to the hour) and
blended with the community's curve so a member with few messages is not over-fitted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

HOURS_PER_WEEK = 168
_KERNEL = np.array([0.25, 0.5, 1.0, 0.5, 0.25])


def hour_of_week(ts: float, utc_offset_s: float = 0.0) -> int:
    """0..167, Monday 00:00 = 0, in the member's local time when an offset is given."""
    t = int((ts + utc_offset_s) // 3600)
    # The epoch (1970-01-01) was a Thursday: shift so Monday is 0.
    return (t + 72) % HOURS_PER_WEEK


def _smooth(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    padded = np.concatenate([counts[-2:], counts, counts[:2]])
    return np.convolve(padded, _KERNEL, mode="valid")


class ActivityPrior:
    """``score(user, ts)``: log ratio of the member's activity at ``ts``'s hour of week to uniform."""

    def __init__(self, pseudo_count: float = 10.0) -> None:
        self.pseudo_count = pseudo_count
        self._community = np.full(HOURS_PER_WEEK, 1.0 / HOURS_PER_WEEK)
        self._members: dict[str, npt.NDArray[np.float64]] = {}

    def fit(self, activity: Mapping[str, Iterable[float]]) -> ActivityPrior:
        """Learn from each member's message timestamps (epoch seconds)."""
        per_member: dict[str, npt.NDArray[np.float64]] = {}
        total = np.zeros(HOURS_PER_WEEK)
        for user, stamps in activity.items():
            counts = np.zeros(HOURS_PER_WEEK)
            for ts in stamps:
                counts[hour_of_week(ts)] += 1.0
            per_member[user] = counts
            total += counts
        community = _smooth(total) + 1.0
        self._community = community / community.sum()
        for user, counts in per_member.items():
            smoothed = _smooth(counts) + self.pseudo_count * self._community
            self._members[user] = smoothed / smoothed.sum()
        return self

    def distribution(self, user: str) -> npt.NDArray[np.float64]:
        """The member's hour-of-week distribution (the community's when unknown)."""
        return self._members.get(user, self._community)

    def score(self, user: str, ts: float) -> float:
        """log(p_user(hour) * 168): 0 for uniform, positive when the member is usually online."""
        return float(np.log(self.distribution(user)[hour_of_week(ts)] * HOURS_PER_WEEK))
