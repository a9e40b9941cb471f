"""Scheduled jobs (``@every``): daily digests, weekly leaderboards, retention purges, trend scans.

A :class:`Schedule` computes the next run time in the community's time zone, so "every day at
09:00" stays at 09:00 local time across daylight-saving changes. A job with ``catch_up`` records
its runs (:class:`StoreRunLog`), so a run missed while the process was down (a deploy, a crash, a
suspended laptop) is made once when it comes back, unless it is older than ``catch_up``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Protocol

from bot.clock import Clock
from bot.tasks import cancel_until_done

if TYPE_CHECKING:
    from bot.store.db import Database

log = logging.getLogger(__name__)

_SLOT: ContextVar[datetime | None] = ContextVar("guildhall_scheduled_slot", default=None)


def scheduled_slot() -> datetime | None:
    """The slot the running scheduled job runs for, or None when it was not started by a
    :class:`Scheduler` (an admin command, a test).

    A caught-up run happens after its slot (a weekly post made on Tuesday for Monday's slot): a job
    whose work depends on the day reads the slot, not the clock.
    """
    return _SLOT.get()


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
        catch_up: a run missed while no process was up is made once on start (never once per missed
            run) if it is at most this late; an older one is skipped with a warning (a weekly post a
            week late is pointless). Needs the scheduler's run log. None: missed runs are skipped.
    """

    interval: timedelta | None = None
    at: time | None = None
    weekday: int | None = None
    one_worker: bool = False
    catch_up: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.interval is None) == (self.at is None):
            raise ValueError("a schedule needs exactly one of interval= or at=")
        if self.weekday is not None and not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0..6")
        if self.interval is not None and self.interval <= timedelta(0):
            raise ValueError("interval must be positive")
        if self.catch_up is not None and self.catch_up <= timedelta(0):
            raise ValueError("catch_up must be positive")

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

    def latest_at_or_before(self, now: datetime, tz: tzinfo) -> datetime:
        """The last slot at or before ``now`` (aware). Interval slots are whole multiples of the
        interval (as for ``one_worker``): a process that was down has no rhythm of its own to resume."""
        if self.interval is not None:
            step = self.interval.total_seconds()
            return datetime.fromtimestamp(now.timestamp() // step * step, UTC).astimezone(now.tzinfo)
        # The next slot after a time safely before the previous one, stepped until it passes ``now``.
        span = timedelta(days=8 if self.weekday is not None else 2)
        slot = self.next_after(now - span, tz)
        while (after := self.next_after(slot, tz)) <= now:
            slot = after
        return slot


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
Release = Callable[[str], Awaitable[None]]


class RunLog(Protocol):
    """Where the slots that ``catch_up`` jobs ran for are kept, across restarts and processes."""

    async def last_slot(self, job: str) -> datetime | None:
        """The latest slot ``job`` ran for, or None when it never ran here."""

    async def record(self, job: str, slot: datetime) -> None:
        """Note that ``job`` ran for ``slot`` (an earlier slot than the recorded one is ignored)."""


class StoreRunLog:
    """:class:`RunLog` in the store's ``scheduled_runs`` table (core migration 0003)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def last_slot(self, job: str) -> datetime | None:
        row = await self._db.fetchone("SELECT slot_ts FROM scheduled_runs WHERE job = ?", (job,))
        return None if row is None else datetime.fromtimestamp(float(row[0]), UTC)

    async def record(self, job: str, slot: datetime) -> None:
        # Never backwards: a slow worker finishing an older run must not make a newer one look missed.
        await self._db.execute(
            "INSERT INTO scheduled_runs (job, slot_ts, ran_ts) VALUES (?, ?, ?) ON CONFLICT (job) DO UPDATE "
            "SET slot_ts = excluded.slot_ts, ran_ts = excluded.ran_ts WHERE scheduled_runs.slot_ts < excluded.slot_ts",
            (job, slot.timestamp(), datetime.now(UTC).timestamp()),
        )


class Scheduler:
    """Runs jobs on their schedules; a failing job is logged and runs again next time.

    ``claim`` (the Redis bus's :meth:`~bot.bus_redis.RedisStreamsBus.claim_once` when several
    processes share the work) decides which process runs a ``one_worker`` job's run; without it
    this process runs every run. ``runs`` keeps what ``catch_up`` jobs ran for (without it they
    cannot tell a missed run and behave like the others, with a warning).

    A run still going when the job's next slot comes is left to finish, and that slot is skipped
    with a warning: one run of a job at a time, and a hung job is visible instead of silent.
    """

    def __init__(
        self,
        clock: Clock,
        tz: tzinfo,
        claim: Claim | None = None,
        runs: RunLog | None = None,
        release: Release | None = None,
    ) -> None:
        self._clock = clock
        self._tz = tz
        self.claim = claim
        # Gives a claim back when its run failed, so a restart (catch-up) or another worker may make it.
        self.release = release
        self.runs = runs
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._only: frozenset[str] | None = None
        self._jobs: list[tuple[str, Schedule, Job]] = []

    def add(self, name: str, schedule: Schedule, job: Job) -> None:
        """Register a job; it starts with :meth:`start` (at once when that already ran for it)."""
        self._jobs.append((name, schedule, job))
        if self._started and (self._only is None or name in self._only):
            self._tasks.append(asyncio.create_task(self._loop(name, schedule, job), name=f"job:{name}"))

    @property
    def job_names(self) -> list[str]:
        """Names of registered jobs."""
        return [name for name, _, _ in self._jobs]

    async def start(self, *, only: Collection[str] | None = None) -> None:
        """Start a task per job (``only``: just the jobs of these names)."""
        self._started, self._only = True, None if only is None else frozenset(only)
        for name, schedule, job in self._jobs:
            if self._only is None or name in self._only:
                self._tasks.append(asyncio.create_task(self._loop(name, schedule, job), name=f"job:{name}"))

    async def _loop(self, name: str, schedule: Schedule, job: Job) -> None:
        last: datetime | None = None
        if schedule.catch_up is not None:
            last = await self._catch_up(name, schedule, job)
        while True:
            now = self._clock.now()
            # The next run comes after the one just made even when the clock reads earlier than it
            # (stepped back by NTP or by hand, or a wake a hair before the wall clock got there):
            # scheduling from ``now`` alone made the same 09:00 run again.
            when = schedule.next_after(now if last is None else max(now, last), self._tz)
            await self._clock.sleep_until(when)
            if schedule.catch_up is not None:
                # Woken late (a suspended machine, a run that overran): the latest slot is the one
                # to make, once, and only while it is still worth making.
                when = max(when, schedule.latest_at_or_before(self._clock.now(), self._tz))
                if self._clock.now() - when > schedule.catch_up:
                    log.warning("scheduled job %s missed its run at %s: too late to catch up", name, when)
                    last = when
                    continue
            await self._run(name, schedule, job, when)
            last = when

    async def _catch_up(self, name: str, schedule: Schedule, job: Job) -> datetime | None:
        """On start: make the job's latest slot if it was missed and is not older than ``catch_up``;
        returns the slot the loop goes on after (None: from now)."""
        assert schedule.catch_up is not None
        if self.runs is None:
            log.warning("scheduled job %s cannot catch up missed runs: the scheduler has no run log", name)
            return None
        due = schedule.latest_at_or_before(self._clock.now(), self._tz)
        try:
            done = await self.runs.last_slot(name)
            if done is None:
                # Never recorded (a new job, or the first start with run records): whether ``due``
                # ran is unknown, and posting it again would duplicate it. Later misses are caught.
                await self.runs.record(name, due)
                return None
        except Exception:
            log.exception("scheduled job %s: cannot read its last run; missed runs are not caught up", name)
            return None
        if done >= due:
            return None
        late = self._clock.now() - due
        if late > schedule.catch_up:
            log.warning("scheduled job %s missed its run at %s (%s ago): too late to catch up", name, due, late)
            return None
        log.info("scheduled job %s missed its run at %s; running it now", name, due)
        await self._run(name, schedule, job, due)
        return due

    async def _give_back(self, name: str, slot: datetime, run_key: str) -> None:
        """Release the claim on a run not made (failed or stopped), so a restart or another worker
        makes it; a release that fails is logged (the claim then runs out by itself)."""
        if self.release is None:
            return
        try:
            await self.release(run_key)
        except Exception:
            log.exception("scheduled job %s: its claim on %s could not be given back", name, slot)

    async def _run(self, name: str, schedule: Schedule, job: Job, slot: datetime) -> None:
        """Make the run of ``slot``, unless another worker claims it. Slots that pass meanwhile are
        skipped: the loop schedules from the clock after the run."""
        watch = asyncio.create_task(self._watch(name, schedule, slot), name=f"job:{name}:watch")
        token = _SLOT.set(slot)
        try:
            # A claim is kept two days: long after any process could still be about to take the run.
            # A caught-up run has the key of its slot, so a worker that made it on time is not
            # followed by another making it again.
            run_key = f"{name}@{slot.astimezone(UTC).isoformat()}"
            claimed = schedule.one_worker and self.claim is not None
            if claimed and self.claim is not None and not await self.claim(run_key, 2 * 86400):
                log.debug("scheduled job %s at %s runs in another worker", name, slot)
                return
            if claimed and schedule.catch_up is not None and self.runs is not None:
                # A claim is also taken over from a worker that is gone (killed outright, see
                # RedisStreamsBus.claim_once): the run log, not the claim, says whether it made the run.
                done = await self.runs.last_slot(name)
                if done is not None and done >= slot:
                    return
            await job()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and not task.cancelling():
                # Not a stop: the job's own failure (it awaited a task or future that something
                # else cancelled). Re-raised, it ended this job's loop for good, silently: no
                # later run until a restart. A failed run like any other.
                log.exception("scheduled job %s failed: something it awaited was cancelled", name)
                if claimed:
                    await self._give_back(name, slot, run_key)
                return
            # Stopped mid-run (a deploy): not made, so the claim is given back and the next start
            # (this process or another worker) catches the run up. Shielded from the cancel.
            if claimed:
                await asyncio.shield(self._give_back(name, slot, run_key))
            raise
        except Exception:
            # Not recorded, and its claim given back: a restart within ``catch_up`` (this process or
            # another worker) tries the failed run again.
            log.exception("scheduled job %s failed", name)
            if claimed:
                await self._give_back(name, slot, run_key)
            return
        finally:
            _SLOT.reset(token)
            watch.cancel()
        if schedule.catch_up is not None and self.runs is not None:
            try:
                await self.runs.record(name, slot)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduled job %s ran for %s but its run could not be recorded", name, slot)

    async def _watch(self, name: str, schedule: Schedule, slot: datetime) -> None:
        """Warn at each slot of ``name`` that comes while its run of ``slot`` is still going."""
        nxt = slot
        while True:
            nxt = schedule.next_after(nxt, self._tz)
            await self._clock.sleep_until(nxt)
            log.warning(
                "scheduled job %s: its run of %s is still going at its next run time %s; that run is skipped",
                name,
                slot,
                nxt,
            )

    async def stop(self) -> None:
        """Cancel all job tasks (again while one outlives a cancel: a job ending as it is cancelled
        would otherwise sleep on to its next run)."""
        stuck = await cancel_until_done(self._tasks, within_s=10)
        if stuck:
            log.error("%d scheduled jobs did not stop", len(stuck))
        self._tasks.clear()
