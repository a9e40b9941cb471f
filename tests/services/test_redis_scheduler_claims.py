"""One-worker scheduled runs claimed on the real Redis: a run stopped by a deploy, or whose worker
was killed outright, is made by the next start (catch-up), not lost to a claim kept two days."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.bus_redis import RedisStreamsBus
from bot.clock import SystemClock
from bot.scheduler import Schedule, Scheduler
from tests.services.conftest import URL

pytestmark = pytest.mark.services


class MemoryRunLog:
    def __init__(self) -> None:
        self.slots: dict[str, datetime] = {}

    async def last_slot(self, job: str) -> datetime | None:
        return self.slots.get(job)

    async def record(self, job: str, slot: datetime) -> None:
        if job not in self.slots or self.slots[job] < slot:
            self.slots[job] = slot


def _weekly_an_hour_ago() -> tuple[Schedule, datetime]:
    now = datetime.now(UTC)
    hour_ago = now - timedelta(hours=1)
    sched = Schedule(
        at=time(hour_ago.hour, hour_ago.minute), weekday=hour_ago.weekday(), one_worker=True, catch_up=timedelta(days=3)
    )
    return sched, sched.latest_at_or_before(now, UTC)


async def _start_and_interrupt(prefix: str, runs: MemoryRunLog, sched: Schedule, *, killed: bool) -> None:
    bus = RedisStreamsBus(URL, prefix=prefix, claim_idle_ms=600)
    started = asyncio.Event()

    async def slow_post() -> None:
        started.set()
        await asyncio.sleep(60)

    a = Scheduler(SystemClock(), UTC, claim=bus.claim_once, runs=runs, release=bus.release_claim)
    a.add("activity.weekly", sched, slow_post)
    await a.start()
    await asyncio.wait_for(started.wait(), 10)
    if killed:  # SIGKILL: nothing is given back, and the liveness key is no longer renewed
        assert bus._heartbeat is not None
        bus._heartbeat.cancel()
        await asyncio.sleep(0.5)
        a.release = None
    await a.stop()
    if not killed:
        await bus.close()


@pytest.mark.parametrize("killed", [False, True], ids=["stopped", "killed"])
async def test_an_interrupted_run_is_caught_up_by_the_next_start(prefix: str, killed: bool) -> None:
    runs = MemoryRunLog()
    sched, due = _weekly_an_hour_ago()
    await runs.record("activity.weekly", due - timedelta(days=7))
    await _start_and_interrupt(prefix, runs, sched, killed=killed)
    posted: list[str] = []

    async def post() -> None:
        posted.append("B")

    bus = RedisStreamsBus(URL, prefix=prefix, claim_idle_ms=600)
    b = Scheduler(SystemClock(), UTC, claim=bus.claim_once, runs=runs, release=bus.release_claim)
    b.add("activity.weekly", sched, post)
    await b.start()
    for _ in range(100):
        if posted:
            break
        await asyncio.sleep(0.02)
    await b.stop()
    await bus.close()
    assert posted == ["B"]
    assert runs.slots["activity.weekly"] == due


async def test_a_run_made_is_not_made_again_after_its_worker_is_gone(prefix: str) -> None:
    """The claim of a finished run may be taken over once its worker is gone: the run log says it
    was made, so the next start makes nothing."""
    runs = MemoryRunLog()
    sched, due = _weekly_an_hour_ago()
    await runs.record("activity.weekly", due - timedelta(days=7))
    posted: list[str] = []

    async def post() -> None:
        posted.append("x")

    for _ in range(2):
        bus = RedisStreamsBus(URL, prefix=prefix, claim_idle_ms=600)
        s = Scheduler(SystemClock(), UTC, claim=bus.claim_once, runs=runs, release=bus.release_claim)
        s.add("activity.weekly", sched, post)
        await s.start()
        await asyncio.sleep(0.3)
        await s.stop()
        await bus.close()
    assert posted == ["x"]
