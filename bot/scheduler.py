"""Scheduled jobs (``@every``): daily digests, weekly leaderboards, retention purges, trend scans.

A :class:`Schedule` computes the next run time in the community's time zone, so "every day at
09:00" stays at 09:00 local time across daylight-saving changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from bot.clock import Clock
from bot.tasks import cancel_until_done

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a job runs: every ``interval``, or daily/weekly at a local ``at`` time.

    Args:
        interval: period for interval jobs (e.g. ``timedelta(minutes=15)``).
        at: local wall-clock time for daily/weekly jobs.
        weekday: 0=Monday..6=Sunday for weekly jobs (needs ``at``).
        one_worker: with several worker processes, each run happens in one of them (digests,
            posts, alerts: community-wide work), not in every one (an index flush: per process).
            Interval runs then fall on whole multiples of the interval, the same instants in every
            process, so they can agree on which run is which.
    """

    interval: timedelta | None = None
    at: time | None = None
    weekday: int | None = None
    one_worker: bool = False

    def __post_init__(self) -> None:
        if (self.interval is None) == (self.at is None):
            raise ValueError("a schedule needs exactly one of interval= or at=")
        if self.weekday is not None and not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0..6")
        if self.interval is not None and self.interval <= timedelta(0):
            raise ValueError("interval must be positive")

    def next_after(self, now: datetime, tz: tzinfo) -> datetime:
        """The first run strictly after ``now`` (aware), as an aware datetime."""
        if self.interval is not None:
            if not self.one_worker:
                return now + self.interval
            step = self.interval.total_seconds()
            return datetime.fromtimestamp((now.timestamp() // step + 1) * step, UTC).astimezone(now.tzinfo)
        assert self.at is not None
        # Compared as instants (UTC), never as wall clocks: aware datetimes sharing a tzinfo compare
        # by wall clock and ignore ``fold``, so on the autumn change 01:30 EDT looked later than
        # 01:20 EST (and the job ran twice), and a spring-forward gap time was misjudged.
        after = now.astimezone(UTC)
        day = now.astimezone(tz).date() - timedelta(days=1)  # a gap time may land after midnight
        for _ in range(10 if self.weekday is not None else 4):
            candidate = datetime.combine(day, self.at, tzinfo=tz)
            if candidate.astimezone(UTC) > after and (self.weekday is None or day.weekday() == self.weekday):
                # A time the spring change skipped runs at the instant it maps to (02:30 -> 03:30).
                return candidate.astimezone(UTC).astimezone(tz)
            day += timedelta(days=1)
        raise AssertionError("unreachable: every day has its run within ten days")


def parse_hhmm(text: str) -> time:
    """Parse ``"09:30"`` into a time; raises ValueError with a clear message."""
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(f"expected HH:MM, got {text!r}") from exc


Job = Callable[[], Awaitable[None]]
# ``claim(key, ttl_s)``: True for the one process that takes a run (see Schedule.one_worker).
Claim = Callable[[str, float], Awaitable[bool]]


class Scheduler:
    """Runs jobs on their schedules; a failing job is logged and runs again next time.

    ``claim`` (the Redis bus's :meth:`~bot.bus_redis.RedisStreamsBus.claim_once` when several
    processes share the work) decides which process runs a ``one_worker`` job's run; without it
    this process runs every run.
    """

    def __init__(self, clock: Clock, tz: tzinfo, claim: Claim | None = None) -> None:
        self._clock = clock
        self._tz = tz
        self.claim = claim
        self._tasks: list[asyncio.Task[None]] = []
        self._jobs: list[tuple[str, Schedule, Job]] = []

    def add(self, name: str, schedule: Schedule, job: Job) -> None:
        """Register a job; it starts with :meth:`start`."""
        self._jobs.append((name, schedule, job))
        if self._tasks:
            self._tasks.append(asyncio.create_task(self._loop(name, schedule, job), name=f"job:{name}"))

    @property
    def job_names(self) -> list[str]:
        """Names of registered jobs."""
        return [name for name, _, _ in self._jobs]

    async def start(self) -> None:
        """Start a task per job."""
        for name, schedule, job in self._jobs:
            self._tasks.append(asyncio.create_task(self._loop(name, schedule, job), name=f"job:{name}"))

    async def _loop(self, name: str, schedule: Schedule, job: Job) -> None:
        last: datetime | None = None
        while True:
            now = self._clock.now()
            # The next run comes after the one just made even when the clock reads earlier than it
            # (stepped back by NTP or by hand, or a wake a hair before the wall clock got there):
            # scheduling from ``now`` alone made the same 09:00 run again.
            when = schedule.next_after(now if last is None else max(now, last), self._tz)
            last = when
            await self._clock.sleep_until(when)
            try:
                # A claim is kept two days: long after any process could still be about to take the run.
                run_key = f"{name}@{when.astimezone(UTC).isoformat()}"
                if schedule.one_worker and self.claim is not None and not await self.claim(run_key, 2 * 86400):
                    log.debug("scheduled job %s at %s runs in another worker", name, when)
                    continue
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduled job %s failed", name)

    async def stop(self) -> None:
        """Cancel all job tasks (again while one outlives a cancel: a job ending as it is cancelled
        would otherwise sleep on to its next run)."""
        stuck = await cancel_until_done(self._tasks, within_s=10)
        if stuck:
            log.error("%d scheduled jobs did not stop", len(stuck))
        self._tasks.clear()
