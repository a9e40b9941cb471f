"""A job whose own work is cancelled (not the scheduler stopping) fails one run, not every later one."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.clock import FakeClock
from bot.scheduler import Schedule, Scheduler
from tests.unit.core.test_scheduler_catchup import MemoryClaims, MemoryRunLog

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


async def _cancelled_inside() -> None:
    """What a job meets when a task it awaits is cancelled by someone else (an index rebuild
    replaced, a shared fetch abandoned): CancelledError raised in the job's own task."""
    inner = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    inner.cancel()
    await inner


async def test_a_job_raising_cancelled_error_keeps_its_later_runs(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(START)
    sched = Scheduler(clock, UTC)
    runs: list[datetime] = []

    async def flush() -> None:
        runs.append(clock.now())
        if len(runs) == 1:
            await _cancelled_inside()

    sched.add("qa.flush_index", Schedule(interval=timedelta(minutes=1)), flush)
    await sched.start()
    await clock.advance(timedelta(0))
    with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
        for _ in range(3):
            await clock.advance(timedelta(minutes=1))
    # The first run failed; the loop went on (it used to end for good, with nothing logged).
    assert runs == [START + timedelta(minutes=m) for m in (1, 2, 3)]
    assert "scheduled job qa.flush_index failed" in caplog.text
    await asyncio.wait_for(sched.stop(), 5)


async def test_a_claimed_run_cancelled_inside_gives_its_claim_back_and_is_not_recorded() -> None:
    clock = FakeClock(datetime(2026, 1, 12, 9, 0, tzinfo=UTC))
    weekly = Schedule(at=time(10, 0), weekday=0, one_worker=True, catch_up=timedelta(days=3))
    monday = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
    runs = MemoryRunLog(**{"activity.weekly_post": monday - timedelta(days=7)})
    claims = MemoryClaims()
    sched = Scheduler(clock, UTC, runs=runs, claim=claims.claim, release=claims.release)

    async def post() -> None:
        await _cancelled_inside()

    sched.add("activity.weekly_post", weekly, post)
    await sched.start()
    await clock.advance(timedelta(hours=2))
    # A restart (or another worker) may make the run again: neither claimed nor recorded.
    assert claims.claimed == set()
    assert runs.slots["activity.weekly_post"] == monday - timedelta(days=7)
    await asyncio.wait_for(sched.stop(), 5)


async def test_stopping_during_a_run_still_stops_the_job() -> None:
    clock = FakeClock(START, settle_s=0.1)
    sched = Scheduler(clock, UTC)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    sched.add("recommend.digest", Schedule(interval=timedelta(minutes=1)), slow)
    await sched.start()
    await clock.advance(timedelta(0))
    await clock.advance(timedelta(minutes=1))
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(sched.stop(), 5)
    assert cancelled.is_set()
    assert sched._tasks == []
