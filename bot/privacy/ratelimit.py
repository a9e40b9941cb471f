"""Sliding-window rate limits for ``/ask`` and mentions (per member and per channel)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class SlidingWindowLimiter:
    """At most ``limit`` hits per ``window_s`` seconds per key; memory bounded by ``max_keys``."""

    limit: int
    window_s: float = 60.0
    max_keys: int = 100_000
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, key: str, now: float) -> bool:
        """Record a hit for ``key`` at ``now`` if allowed; False when over the limit."""
        if not self.available(key, now):
            return False
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._evict(now)
            hits = self._hits[key] = deque()
        hits.append(now)
        return True

    def available(self, key: str, now: float) -> bool:
        """Whether ``key`` may hit at ``now``, without recording a hit."""
        hits = self._hits.get(key)
        if hits is None:
            return self.limit > 0
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return len(hits) < self.limit

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may hit again (0 when it may now)."""
        hits = self._hits.get(key)
        if not hits or len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window_s - now)

    def _evict(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_s]:
            del self._hits[key]
        while len(self._hits) >= self.max_keys:
            self._hits.pop(next(iter(self._hits)))


@dataclass(slots=True)
class AskLimiter:
    """Combined member and channel limits; ``check`` says whether a question may be answered."""

    per_member: SlidingWindowLimiter
    per_channel: SlidingWindowLimiter

    @classmethod
    def from_limits(cls, member_per_minute: int, channel_per_minute: int) -> AskLimiter:
        """Limits per minute."""
        return cls(SlidingWindowLimiter(member_per_minute), SlidingWindowLimiter(channel_per_minute))

    def check(self, member_key: str, channel_key: str, now: float) -> float:
        """0.0 if allowed (and recorded against both), else seconds to wait (recorded against
        neither: a question refused because its channel is busy must not use up the member's own
        allowance, or they are refused again once the channel is free)."""
        if not self.per_member.available(member_key, now):
            return max(1.0, self.per_member.retry_after(member_key, now))
        if not self.per_channel.allow(channel_key, now):
            return max(1.0, self.per_channel.retry_after(channel_key, now))
        self.per_member.allow(member_key, now)
        return 0.0
