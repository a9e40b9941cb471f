"""Time sources: the real clock and a fake one for tests (no sleeps in tests)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

log = logging.getLogger(__name__)


class Clock(Protocol):
    """What schedulers and timers need."""

    def now(self) -> datetime:
        """Current timezone-aware UTC time."""

    async def sleep_until(self, when: datetime) -> None:
        """Return at (or after) ``when``."""


class SystemClock:
    """Wall-clock time.

    :meth:`sleep_until` waits for the wall clock, not for a duration: asyncio sleeps on the
    monotonic clock, which stands still while a laptop or VM is suspended and ignores steps of the
    wall clock (NTP, an admin fixing the time), so one long sleep for "tomorrow 09:00" could end
    hours late, or before 09:00. It sleeps in slices of at most :attr:`max_sleep_s` and looks at
    the wall clock again after each.
    """

    max_sleep_s: float = 60.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        # Polling is the point (ASYNC110): nothing signals "the wall clock reached ``when``".
        while (delay := (when - self.now()).total_seconds()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(delay, self.max_sleep_s))


class FakeClock:
    """A manually advanced clock: ``await clock.advance(timedelta(minutes=5))`` wakes due sleepers.

    Each woken task runs until it finishes or sleeps on this clock again (bounded by
    ``settle_s`` of real time) before time moves on, so a job that reads :meth:`now` after awaiting
    I/O on another thread (aiosqlite) sees the time it was woken at, not wherever the clock has
    jumped meanwhile.
    """

    def __init__(self, start: datetime | None = None, *, settle_s: float = 5.0) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None], asyncio.Task[object] | None]] = []
        self._counter = itertools.count()
        # Woken tasks being waited for in advance(): set when the task sleeps on the clock again.
        self._watched: dict[asyncio.Task[object], asyncio.Event] = {}
        self.settle_s = settle_s

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.current_task()
        heapq.heappush(self._sleepers, (when, next(self._counter), fut, task))
        if task is not None and task in self._watched:
            self._watched[task].set()
        await fut

    async def advance(self, delta: timedelta) -> None:
        """Move time forward, waking every sleeper whose time has come, in order."""
        target = self._now + delta
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, fut, task = heapq.heappop(self._sleepers)
            self._now = max(self._now, when)
            if not fut.done():
                fut.set_result(None)
                await self._settle(task)
        self._now = target
        for _ in range(5):
            await asyncio.sleep(0)

    async def _settle(self, task: asyncio.Task[object] | None) -> None:
        """Let a woken task run until it is done or asleep on this clock again."""
        if task is None or task.done():
            for _ in range(5):
                await asyncio.sleep(0)
            return
        settled = asyncio.Event()
        self._watched[task] = settled

        def finished(_: object) -> None:
            settled.set()

        task.add_done_callback(finished)
        try:
            await asyncio.wait_for(settled.wait(), self.settle_s)
        except TimeoutError:
            # Waiting on something else (a queue, another task): let time move on, visibly, since
            # each such wake costs a test settle_s of real time.
            log.warning("FakeClock: %s neither finished nor slept again within %.1f s", task.get_name(), self.settle_s)
        finally:
            task.remove_done_callback(finished)
            self._watched.pop(task, None)
        for _ in range(5):  # the woken task's follow-ups (handlers it published to) get turns too
            await asyncio.sleep(0)

    @property
    def pending(self) -> int:
        """Number of tasks sleeping on this clock."""
        return sum(1 for _, _, f, _ in self._sleepers if not f.done())


def to_epoch(dt: datetime) -> float:
    """Epoch seconds of an aware datetime (naive ones are taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def from_epoch(ts: float) -> datetime:
    """Aware UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(ts, UTC)


ZERO = timedelta(0)
