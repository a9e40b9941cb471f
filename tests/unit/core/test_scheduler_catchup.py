"""Runs missed while the bot was down are made once on start; a hung run is reported, not doubled."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.clock import FakeClock
from bot.scheduler import Schedule, Scheduler, StoreRunLog, scheduled_slot
from tests.store_backends import fresh_store

# Weekly on Monday 10:00 UTC, worth making up to three days late.
WEEKLY = Schedule(at=time(10, 0), weekday=0, one_worker=True, catch_up=timedelta(days=3))
MON_12 = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
MON_5 = MON_12 - timedelta(days=7)


class MemoryRunLog:
    """A run log shared by the schedulers of one test (the store's table, across processes)."""

    def __init__(self, **slots: datetime) -> None:
        self.slots = dict(slots)

    async def last_slot(self, job: str) -> datetime | None:
        return self.slots.get(job)

    async def record(self, job: str, slot: datetime) -> None:
        if job not in self.slots or self.slots[job] < slot:
            self.slots[job] = slot


class MemoryClaims:
    """The Redis bus's run claims (``SET NX`` / give back), shared by the schedulers of one test."""

    def __init__(self) -> None:
        self.claimed: set[str] = set()

    async def claim(self, key: str, ttl_s: float) -> bool:
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True

    async def release(self, key: str) -> None:
        self.claimed.discard(key)


async def started(clock: FakeClock, runs: MemoryRunLog, seen: list[datetime | None], **kw: object) -> Scheduler:
    sched = Scheduler(clock, UTC, runs=runs, **kw)  # type: ignore[arg-type]

    async def post() -> None:
        seen.append(scheduled_slot())

    sched.add("activity.weekly_post", WEEKLY, post)
    await sched.start()
    await clock.advance(timedelta(0))  # the job task reads the run log and catches up
    return sched


async def test_a_run_missed_while_down_is_made_once_on_start() -> None:
    # Last run for Jan 5; down over Monday Jan 12 10:00; back on Tuesday morning.
    clock = FakeClock(datetime(2026, 1, 13, 8, 0, tzinfo=UTC))
    runs = MemoryRunLog(**{"activity.weekly_post": MON_5})
    seen: list[datetime | None] = []
    sched = await started(clock, runs, seen)
    assert seen == [MON_12]  # the job learns the slot it runs for, not "Tuesday"
    assert runs.slots["activity.weekly_post"] == MON_12
    # Next Monday runs on time, and only then.
    await clock.advance(timedelta(days=6, hours=2))
    assert seen == [MON_12, MON_12 + timedelta(days=7)]
    await sched.stop()


async def test_many_missed_runs_are_made_once() -> None:
    clock = FakeClock(datetime(2026, 1, 13, 8, 0, tzinfo=UTC))
    runs = MemoryRunLog(**{"activity.weekly_post": MON_5 - timedelta(days=21)})
    seen: list[datetime | None] = []
    sched = await started(clock, runs, seen)
    assert seen == [MON_12]
    await sched.stop()


async def test_a_run_older_than_its_catch_up_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(datetime(2026, 1, 16, 9, 0, tzinfo=UTC))  # Friday: Monday's post is four days late
    runs = MemoryRunLog(**{"activity.weekly_post": MON_5})
    seen: list[datetime | None] = []
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        sched = await started(clock, runs, seen)
    assert seen == []
    assert "too late to catch up" in caplog.text
    await sched.stop()


async def test_a_job_never_recorded_is_not_caught_up_but_its_next_miss_is() -> None:
    # The first start with run records: whether Monday's post went out (by an older version) is
    # unknown, and a second board would be a duplicate.
    clock = FakeClock(datetime(2026, 1, 13, 8, 0, tzinfo=UTC))
    runs = MemoryRunLog()
    seen: list[datetime | None] = []
    sched = await started(clock, runs, seen)
    assert seen == []
    assert runs.slots["activity.weekly_post"] == MON_12
    await sched.stop()


async def test_two_workers_starting_after_a_miss_make_it_once() -> None:
    clock = FakeClock(datetime(2026, 1, 13, 8, 0, tzinfo=UTC))
    runs = MemoryRunLog(**{"activity.weekly_post": MON_5})
    claims = MemoryClaims()
    seen: list[datetime | None] = []
    workers = [await started(clock, runs, seen, claim=claims.claim) for _ in range(2)]
    assert seen == [MON_12]
    for sched in workers:
        await sched.stop()


async def test_a_failed_run_is_not_recorded_so_a_restart_tries_it_again() -> None:
    clock = FakeClock(datetime(2026, 1, 12, 9, 0, tzinfo=UTC))
    runs = MemoryRunLog(**{"activity.weekly_post": MON_5})
    sched = Scheduler(clock, UTC, runs=runs)

    async def broken() -> None:
        raise RuntimeError("store down")

    sched.add("activity.weekly_post", WEEKLY, broken)
    await sched.start()
    await clock.advance(timedelta(hours=2))
    await sched.stop()
    assert runs.slots["activity.weekly_post"] == MON_5
    # Back an hour later, it works.
    seen: list[datetime | None] = []
    sched = await started(clock, runs, seen)
    assert seen == [MON_12]
    await sched.stop()


async def test_a_late_wake_runs_the_latest_slot_within_its_catch_up() -> None:
    """A suspended machine (the process up, asleep) wakes late: the run is made once, for its slot,
    while it is worth making."""
    clock = FakeClock(datetime(2026, 1, 12, 9, 0, tzinfo=UTC))
    runs = MemoryRunLog(**{"activity.weekly_post": MON_5})
    seen: list[datetime | None] = []
    sched = await started(clock, runs, seen)
    # The job sleeps until Monday 10:00; the wall clock jumps to Tuesday noon before it wakes
    # (FakeClock.advance would wake it on time, so the jump is made by hand).
    clock._now = datetime(2026, 1, 13, 12, 0, tzinfo=UTC)
    await clock.advance(timedelta(0))
    assert seen == [MON_12]
    await sched.stop()


async def test_jobs_without_catch_up_keep_skipping_missed_runs() -> None:
    # The digest's tick catches up by itself: it must not gain a second mechanism.
    clock = FakeClock(datetime(2026, 1, 13, 8, 0, tzinfo=UTC))
    runs = MemoryRunLog(**{"recommend.digest": MON_5})
    sched = Scheduler(clock, UTC, runs=runs)
    seen: list[datetime] = []

    async def digest() -> None:
        seen.append(clock.now())

    sched.add("recommend.digest", Schedule(at=time(10, 0), weekday=0, one_worker=True), digest)
    await sched.start()
    await clock.advance(timedelta(hours=1))
    assert seen == []
    await sched.stop()


async def test_a_run_still_going_at_its_next_slot_is_reported_and_not_doubled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC), settle_s=0.05)
    sched = Scheduler(clock, UTC)
    release = asyncio.Event()
    starts: list[datetime] = []

    async def stuck() -> None:
        starts.append(clock.now())
        if len(starts) == 1:
            await release.wait()  # a hung HTTP call

    sched.add("activity.trend_scan", Schedule(interval=timedelta(minutes=15), one_worker=True), stuck)
    await sched.start()
    await clock.advance(timedelta(0))  # the job task starts and sleeps until 08:15
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        await clock.advance(timedelta(minutes=15))  # 08:15: the run starts and hangs
        await clock.advance(timedelta(minutes=30))  # 08:30 and 08:45 come while it hangs
    warnings = [r for r in caplog.records if "still going" in r.getMessage()]
    assert len(warnings) == 2 and "activity.trend_scan" in warnings[0].getMessage()
    assert starts == [datetime(2026, 1, 5, 8, 15, tzinfo=UTC)]  # never a second concurrent run
    release.set()
    await clock.advance(timedelta(0))
    await clock.advance(timedelta(minutes=15))  # 09:00: runs again, on its grid
    assert starts[1:] == [datetime(2026, 1, 5, 9, 0, tzinfo=UTC)]
    await sched.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_store_run_log_keeps_the_latest_slot(backend: str) -> None:
    async with fresh_store(backend) as store:
        log = StoreRunLog(store.db)
        assert await log.last_slot("activity.weekly_post") is None
        await log.record("activity.weekly_post", MON_12)
        await log.record("activity.weekly_post", MON_5)  # a slow worker finishing an older run
        assert await log.last_slot("activity.weekly_post") == MON_12
        assert await log.last_slot("other") is None


async def test_a_failed_claimed_run_gives_its_claim_back_so_a_restart_makes_it() -> None:
    # With several workers the run is claimed (kept two days): a run that failed kept its claim, so
    # the restart that should retry it took it for another worker's run and skipped it.
    clock = FakeClock(datetime(2026, 1, 12, 9, 0, tzinfo=UTC))
    runs = MemoryRunLog(**{"activity.weekly_post": MON_5})
    claims = MemoryClaims()
    sched = Scheduler(clock, UTC, runs=runs, claim=claims.claim, release=claims.release)

    async def broken() -> None:
        raise RuntimeError("store down")

    sched.add("activity.weekly_post", WEEKLY, broken)
    await sched.start()
    await clock.advance(timedelta(hours=2))
    await sched.stop()
    seen: list[datetime | None] = []
    sched = await started(clock, runs, seen, claim=claims.claim, release=claims.release)
    assert seen == [MON_12]
    await sched.stop()
