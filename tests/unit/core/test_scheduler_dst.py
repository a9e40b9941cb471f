"""Daily jobs across daylight-saving changes: compared as instants, never as wall clocks."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from bot.scheduler import Schedule

NY = ZoneInfo("America/New_York")


def test_autumn_change_runs_a_daily_job_once() -> None:
    daily = Schedule(at=time(1, 30))
    # 2026-11-01: 01:30 EDT is 05:30Z, then clocks fall back and 01:30 EST is 06:30Z. The job ran at
    # 05:30Z and finished at 06:20Z (01:20 EST): its next run is tomorrow, not 01:30 "again".
    for now in (datetime(2026, 11, 1, 6, 20, tzinfo=UTC), datetime(2026, 11, 1, 6, 5, tzinfo=UTC)):
        nxt = daily.next_after(now, NY)
        assert nxt > now and nxt.astimezone(UTC) == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
    weekly = Schedule(at=time(1, 30), weekday=6)
    assert weekly.next_after(datetime(2026, 11, 1, 6, 20, tzinfo=UTC), NY).astimezone(UTC) == datetime(
        2026, 11, 8, 6, 30, tzinfo=UTC
    )


def test_spring_change_does_not_skip_a_time_the_clock_jumped_over() -> None:
    job = Schedule(at=time(2, 30))  # 2026-03-08 02:30 does not exist in New York: it runs at 03:30 EDT
    restarted = datetime(2026, 3, 8, 7, 10, tzinfo=UTC)  # 03:10 EDT, before that instant
    nxt = job.next_after(restarted, NY)
    assert nxt.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC) and nxt.utcoffset() is not None
    assert job.next_after(datetime(2026, 3, 8, 6, 50, tzinfo=UTC), NY).astimezone(UTC) == datetime(
        2026, 3, 8, 7, 30, tzinfo=UTC
    )


def test_ordinary_days_are_unchanged() -> None:
    job = Schedule(at=time(9, 0))
    berlin = ZoneInfo("Europe/Berlin")
    assert job.next_after(datetime(2026, 1, 5, 7, 59, tzinfo=UTC), berlin) == datetime(2026, 1, 5, 9, 0, tzinfo=berlin)
    assert job.next_after(datetime(2026, 1, 5, 8, 0, tzinfo=UTC), berlin) == datetime(2026, 1, 6, 9, 0, tzinfo=berlin)
