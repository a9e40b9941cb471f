"""Clock jumps: a suspended laptop, a wall clock stepped back by NTP or by hand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace

import pytest

from bot.clock import SystemClock
from bot.scheduler import Schedule, Scheduler

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


class ScriptedWallClock(SystemClock):
    """The real :class:`SystemClock` reading a wall clock the test moves."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t


@pytest.mark.parametrize(
    "jump",
    [
        pytest.param(timedelta(hours=8), id="suspended-8h"),  # the monotonic sleep stood still meanwhile
        pytest.param(-timedelta(hours=1), id="stepped-back-1h"),
    ],
)
async def test_system_clock_wakes_at_the_wall_clock_time_after_a_jump(
    monkeypatch: pytest.MonkeyPatch, jump: timedelta
) -> None:
    clock = ScriptedWallClock(START)
    slices: list[float] = []

    async def monotonic_sleep(delay: float) -> None:
        # asyncio.sleep measures on the monotonic clock; the wall clock jumps during the first slice.
        clock.t += timedelta(seconds=delay) + (jump if not slices else timedelta(0))
        slices.append(delay)

    monkeypatch.setattr("bot.clock.asyncio", SimpleNamespace(sleep=monotonic_sleep))
    when = START + timedelta(days=1)
    await clock.sleep_until(when)
    # Due at ``when`` by the wall clock: never before it, and at most one slice (a minute) after.
    assert when <= clock.now() <= when + timedelta(minutes=1)


class SteppedBackClock:
    """A clock whose first wake finds the wall clock a second short of the due time (NTP stepped it
    back while the job slept), then wakes on time; parks the job loop after ``wakes`` wakes."""

    def __init__(self, start: datetime, wakes: int) -> None:
        self._now = start
        self._wakes = wakes
        self.slept_until: list[datetime] = []
        self.parked = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        self.slept_until.append(when)
        if len(self.slept_until) > self._wakes:
            self.parked.set()
            await asyncio.Event().wait()  # until the scheduler stops
        self._now = when - timedelta(seconds=1) if len(self.slept_until) == 1 else when
        await asyncio.sleep(0)


async def test_a_daily_run_is_not_repeated_when_the_clock_reads_earlier_than_its_slot() -> None:
    clock = SteppedBackClock(START, wakes=2)
    sched = Scheduler(clock, UTC)
    runs: list[datetime] = []

    async def digest() -> None:
        runs.append(clock.now())

    sched.add("recommend.daily_digest", Schedule(at=time(9, 0)), digest)
    await sched.start()
    await asyncio.wait_for(clock.parked.wait(), 5)
    await sched.stop()
    nine = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    # One digest a day: the second run is tomorrow's, not today's 09:00 again.
    assert clock.slept_until == [nine, nine + timedelta(days=1), nine + timedelta(days=2)]
    assert [r.date() for r in runs] == [nine.date(), nine.date() + timedelta(days=1)]
