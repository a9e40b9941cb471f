"""The weekly leaderboard is posted after a downtime over its slot, once, and not when too late."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.clock import FakeClock
from bot.config import Settings
from bot.scheduler import Scheduler, StoreRunLog
from tests.conftest import AppFactory
from tests.unit.activity.test_weekly_post import brain_of, posts, seed, tuned

# Monday 2026-01-05 10:00 in Berlin: the slot before the downtime, which did run.
LAST_SLOT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class ObservedClock(FakeClock):
    """A fake clock that tells when the weekly post's job loop goes to sleep: it has made (or
    skipped) the catch-up and waits for its next slot."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.waiting = asyncio.Event()

    async def sleep_until(self, when: datetime) -> None:
        task = asyncio.current_task()
        if task is not None and task.get_name() == "job:activity.weekly_post":
            self.waiting.set()
        await super().sleep_until(when)


async def run_weekly_post_at(make_app: AppFactory, settings: Settings, now: datetime) -> list[str]:
    """Start a scheduler with the store's run log at ``now`` (the bot coming back); the texts posted."""
    clock = FakeClock(now)
    app, adapter = await make_app(
        brains=["activity"],
        clock=clock,
        settings_override=tuned(settings, alerts_channel_id="staff", leaderboard_post_time="10:00"),
    )
    await seed(app, adapter)
    # The test drives its own scheduler: the app's, which started with no run on record and only
    # noted the current slot, is stopped and its note replaced by the last run made before the downtime.
    await app.scheduler.stop()
    await app.store.db.execute("DELETE FROM scheduled_runs")
    runs = StoreRunLog(app.store.db)
    await runs.record("activity.weekly_post", LAST_SLOT)
    # Its own clock at the same time: the app's scheduler sleeps on the app's.
    sched_clock = ObservedClock(now)
    sched = Scheduler(sched_clock, app.settings.tz, runs=runs)
    for name, schedule, job in brain_of(app).schedules(app.settings):
        if name == "activity.weekly_post":
            sched.add(name, schedule, job)
    await sched.start()
    await asyncio.wait_for(sched_clock.waiting.wait(), 30)
    await app.bus.drain()
    await sched.stop()
    return [p.text for p in posts(adapter)]


async def test_the_board_missed_on_monday_is_posted_on_tuesday(make_app: AppFactory, settings: Settings) -> None:
    # Down from Sunday to Tuesday 09:00 (Berlin): Monday's 10:00 post is made on start, for the
    # week that ended on Sunday, although the job now runs on a Tuesday.
    sent = await run_weekly_post_at(make_app, settings, datetime(2026, 1, 13, 8, 0, tzinfo=UTC))
    assert len(sent) == 1 and "2026-01-05" in sent[0] and "helper" in sent[0]


async def test_the_board_is_not_posted_four_days_late(make_app: AppFactory, settings: Settings) -> None:
    sent = await run_weekly_post_at(make_app, settings, datetime(2026, 1, 16, 11, 0, tzinfo=UTC))
    assert sent == []


async def test_the_post_is_scheduled_on_the_configured_weekday(make_app: AppFactory, settings: Settings) -> None:
    # Weekly in the schedule itself (not daily with a weekday check in the job): otherwise the slot a
    # restart on Tuesday afternoon finds missed is Tuesday's, which posts nothing.
    app, _ = await make_app(
        brains=["activity"],
        settings_override=tuned(settings, leaderboard_post_weekday=4, leaderboard_post_time="08:30"),
    )
    (schedule,) = [s for name, s, _ in brain_of(app).schedules(app.settings) if name == "activity.weekly_post"]
    assert schedule.weekday == 4 and schedule.at is not None and schedule.at.hour == 8
    assert schedule.one_worker and schedule.catch_up is not None
