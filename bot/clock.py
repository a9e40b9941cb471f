"""Time sources: the real clock and a fake one for tests (no sleeps in tests)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What schedulers and timers need."""

    def now(self) -> datetime:
        """Current timezone-aware UTC time."""

    async def sleep_until(self, when: datetime) -> None:
        """Return at (or after) ``when``."""


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class FakeClock:
    """A manually advanced clock: ``await clock.advance(timedelta(minutes=5))`` wakes due sleepers."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._counter), fut))
        await fut

    async def advance(self, delta: timedelta) -> None:
        """Move time forward, waking every sleeper whose time has come, in order."""
        target = self._now + delta
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, when)
            if not fut.done():
                fut.set_result(None)
            # Let the woken task run (and possibly schedule its next sleep) before continuing.
            for _ in range(5):
                await asyncio.sleep(0)
        self._now = target
        for _ in range(5):
            await asyncio.sleep(0)

    @property
    def pending(self) -> int:
        """Number of tasks sleeping on this clock."""
        return sum(1 for _, _, f in self._sleepers if not f.done())


def to_epoch(dt: datetime) -> float:
    """Epoch seconds of an aware datetime (naive ones are taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def from_epoch(ts: float) -> datetime:
    """Aware UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(ts, UTC)


ZERO = timedelta(0)
