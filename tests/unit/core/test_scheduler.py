"""Schedules run in the community's time zone, with a fake clock (no sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FakeClock
from bot.scheduler import Schedule, Scheduler, parse_hhmm

BERLIN = ZoneInfo("Europe/Berlin")


def test_daily_at_local_time_across_dst() -> None:
    s = Schedule(at=time(9, 0))
    before_dst = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Saturday; DST starts Sunday 29 March
    nxt = s.next_after(before_dst, BERLIN)
    assert nxt.astimezone(BERLIN).hour == 9 and nxt.astimezone(BERLIN).day == 29
    assert nxt.astimezone(UTC).hour == 7  # 09:00 CEST


def test_weekly_schedule_picks_the_weekday() -> None:
    s = Schedule(at=time(10, 0), weekday=0)
    nxt = s.next_after(datetime(2026, 1, 7, 12, 0, tzinfo=UTC), UTC)  # a Wednesday
    assert nxt == datetime(2026, 1, 12, 10, 0, tzinfo=UTC)


def test_invalid_schedules_fail_fast() -> None:
    with pytest.raises(ValueError):
        Schedule()
    with pytest.raises(ValueError):
        Schedule(interval=timedelta(0))
    with pytest.raises(ValueError, match="HH:MM"):
        parse_hhmm("nine")


async def test_scheduler_runs_jobs_on_the_fake_clock_and_survives_failures() -> None:
    clock = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    sched = Scheduler(clock, UTC)
    runs: list[datetime] = []
    calls = 0

    async def job() -> None:
        nonlocal calls
        calls += 1
        runs.append(clock.now())
        if calls == 1:
            raise RuntimeError("first run fails")

    sched.add("digest", Schedule(at=time(9, 0)), job)
    await sched.start()
    await clock.advance(timedelta(minutes=59))
    assert runs == []
    await clock.advance(timedelta(minutes=1))
    await clock.advance(timedelta(days=1))
    assert runs == [datetime(2026, 1, 5, 9, 0, tzinfo=UTC), datetime(2026, 1, 6, 9, 0, tzinfo=UTC)]
    await sched.stop()


async def test_stop_ends_a_job_that_swallows_its_cancel() -> None:
    # On Python 3.11 a job's asyncio.wait_for can swallow a cancel that lands as its call completes;
    # the job then returns normally and the loop would sleep until the next run (a day here).
    clock = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC), settle_s=0.1)
    sched = Scheduler(clock, UTC)
    running = asyncio.Event()

    async def job() -> None:
        running.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return  # swallowed

    sched.add("digest", Schedule(at=time(9, 0)), job)
    await sched.start()
    await clock.advance(timedelta(minutes=59))
    await clock.advance(timedelta(minutes=1))
    await asyncio.wait_for(running.wait(), 5)
    await asyncio.wait_for(sched.stop(), 5)


async def test_a_woken_task_reads_its_wake_time_even_after_io_on_another_thread() -> None:
    import time as _time

    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    clock = FakeClock(start)
    seen: list[datetime] = []

    async def job() -> None:
        for _ in range(3):
            await clock.sleep_until(clock.now() + timedelta(minutes=15))
            await asyncio.to_thread(_time.sleep, 0.02)  # a store query on aiosqlite's thread
            seen.append(clock.now())

    task = asyncio.create_task(job())
    await asyncio.sleep(0)
    await clock.advance(timedelta(hours=1))
    assert seen == [start + timedelta(minutes=m) for m in (15, 30, 45)]
    assert task.done() and clock.now() == start + timedelta(hours=1)


def test_one_worker_interval_runs_fall_on_the_same_instants_in_every_process() -> None:
    every_15 = Schedule(interval=timedelta(minutes=15), one_worker=True)
    # Two workers started at different moments agree on the next run, so they can tell it is one run.
    a = every_15.next_after(datetime(2026, 1, 5, 8, 3, 10, tzinfo=UTC), UTC)
    b = every_15.next_after(datetime(2026, 1, 5, 8, 14, 59, tzinfo=UTC), UTC)
    assert a == b == datetime(2026, 1, 5, 8, 15, tzinfo=UTC)
    assert every_15.next_after(datetime(2026, 1, 5, 8, 15, tzinfo=UTC), UTC) == datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
    # A per-process job keeps its own rhythm.
    assert Schedule(interval=timedelta(minutes=15)).next_after(a, UTC) == a + timedelta(minutes=15)


async def test_a_one_worker_job_runs_in_one_of_several_processes() -> None:
    """Two schedulers (two worker processes) sharing one claim: every run of a one_worker job
    happens once; a per-process job runs in both."""
    clock = FakeClock(datetime(2026, 1, 5, 8, 0, 30, tzinfo=UTC))
    claimed: set[str] = set()

    async def claim(key: str, ttl_s: float) -> bool:
        assert ttl_s > 0
        if key in claimed:
            return False
        claimed.add(key)
        return True

    shared: list[tuple[str, datetime]] = []
    local: list[str] = []
    workers = [Scheduler(clock, UTC, claim=claim) for _ in range(2)]
    for n, sched in enumerate(workers):

        async def digest(n: int = n) -> None:
            shared.append((f"w{n}", clock.now()))

        async def flush(n: int = n) -> None:
            local.append(f"w{n}")

        sched.add("recommend.digest_tick", Schedule(interval=timedelta(minutes=15), one_worker=True), digest)
        sched.add("qa.flush_index", Schedule(interval=timedelta(minutes=15)), flush)
        await sched.start()
    for _ in range(3):
        await asyncio.sleep(0)  # the job tasks start and sleep on the clock
    await clock.advance(timedelta(minutes=31))
    assert [at for _, at in shared] == [
        datetime(2026, 1, 5, 8, 15, tzinfo=UTC),
        datetime(2026, 1, 5, 8, 30, tzinfo=UTC),
    ]
    assert sorted(local) == ["w0", "w0", "w1", "w1"]
    for sched in workers:
        await sched.stop()


async def test_only_the_named_jobs_start_also_when_added_later() -> None:
    clock = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    sched = Scheduler(clock, UTC)
    ran: list[str] = []

    def job(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            ran.append(name)

        return run

    sched.add("keep", Schedule(interval=timedelta(minutes=1)), job("keep"))
    sched.add("skip", Schedule(interval=timedelta(minutes=1)), job("skip"))
    await sched.start(only=["keep", "late-keep"])
    sched.add("late-keep", Schedule(interval=timedelta(minutes=1)), job("late-keep"))
    sched.add("late-skip", Schedule(interval=timedelta(minutes=1)), job("late-skip"))
    for _ in range(3):  # the job tasks reach their first sleep
        await asyncio.sleep(0)
    await clock.advance(timedelta(minutes=2))
    assert sorted(set(ran)) == ["keep", "late-keep"]
    await sched.stop()
