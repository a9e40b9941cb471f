"""The event bus: adapters publish normalized events, brains subscribe by event class.

Design (mirrors Redis Streams consumer groups so both buses behave alike):

* every subscription owns a bounded queue and one or more worker tasks named after it, so one
  slow brain never delays another, and events reach each handler in publish order;
* ``publish`` awaits when a queue is full: a burst slows the producer (back-pressure) instead of
  growing memory without bound;
* a handler's exception is logged with the subscription and event names and never stops the bus,
  nor does a ``CancelledError`` a handler raises while its worker is not being cancelled;
* a handler failing because a service is down for now (:func:`is_transient_failure`: the store's
  timeout, SQLite's "database is locked", a dropped connection) is retried in place with a capped
  backoff for up to ``outage_retry_s`` (15 minutes, as the Redis bus) before it counts as a failure;
* a failure is never silent: it is logged (masked, see :mod:`bot.dead_letters`) and counted in
  :attr:`BusStats.failed`, with its description kept in :attr:`BusStats.failures`. The in-process
  bus has no dead-letter store (``guildhall dlq`` is the Redis bus's): the event itself is gone;
* inbound events are de-duplicated by ``event_id`` inside a bounded window, so a redelivered fact
  (Slack retry, gateway resume) is dropped before any handler sees it;
* batch subscribers receive lists of events: the store recorder writes whole batches in one
  transaction, which is what makes imports fast.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar, runtime_checkable

from bot.dead_letters import describe_failure, failure_report
from bot.events import Action, Event, InboundEvent, Platform
from bot.tasks import cancel_until_done

# How often a publisher facing a backlog lets the loop run the subscribers' I/O callbacks.
_TURN_INTERVAL_S = 0.002
# How long close() waits for handlers to finish before cancelling them (as the Redis bus's drain).
DRAIN_TIMEOUT_S = 30.0
# How long a handler failing with an outage (is_transient_failure) is retried in place before the
# failure counts, and the longest wait between two tries (as bot.bus_redis's OUTAGE_RETRY_S).
OUTAGE_RETRY_S = 900.0
_OUTAGE_BACKOFF_FIRST_S = 0.5
_OUTAGE_BACKOFF_MAX_S = 30.0
# How long a publisher may wait for room in a full queue before health() fails the bus: the
# subscription is wedged (a handler hung on a remote call without a timeout) and platform events
# stop being taken.
PUBLISH_STALL_S = 60.0

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None]]
BatchHandler = Callable[[Sequence[Any]], Awaitable[None]]


T = TypeVar("T")

# A failure saying a service is unreachable for now rather than that the event is wrong, for both
# buses (bot.bus_redis.is_outage adds redis-py's own errors), SQLite's lock errors included: a write
# waiting past store.busy_timeout_s for another process's lock (`guildhall import` beside the bot).
_OUTAGE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
_OUTAGE_MESSAGES = (
    "not accepting connections",
    "not currently accepting connections",
    "the database system is starting up",
    "the database system is shutting down",
    "connection was closed",
    "connection is closed",
    "connection refused",
    "database is locked",
    "database table is locked",
)
_OUTAGE_TYPE_NAMES = frozenset(
    {
        "StoreTimeoutError",
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "ConnectionFailureError",
        # redis-py's, by name (the in-process bus does not import redis): a handler's own Redis call.
        "ConnectionError",
        "BusyLoadingError",
    }
)


# Socket errors that say the other end is unreachable for now (an OSError with another errno - a
# bad path, a read-only disk, a certificate refused, an HTTP error from urllib - is not an outage).
_OUTAGE_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
        errno.ETIMEDOUT,
        errno.EPIPE,
        errno.ENOTCONN,
        errno.EADDRNOTAVAIL,
        errno.ESHUTDOWN,
    }
)
# What an OSError without an errno says when every address of a host refused (aiohappyeyeballs'
# "Multiple exceptions: ...", anyio's "All connection attempts failed", asyncio's "Connect call failed").
_CONNECT_FAILED = ("multiple exceptions", "all connection attempts failed", "connect call failed")
# Exceptions that are a handler's own mistake whatever their message says (a ValueError quoting a
# member's "my database is locked"): never an outage, and what they were raised while handling is
# not looked at either (a KeyError raised in an ``except OSError`` block is the KeyError's).
_PROGRAMMING_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError, NameError)


def is_transient_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says a service is unreachable for now rather than that
    the event is wrong: connection errors and the socket errors of an unreachable peer, the
    store's timeout, SQLite's "database is locked", PostgreSQL refusing or dropping connections (by
    SQLSTATE or message, without importing asyncpg). A plain ``TimeoutError`` (a handler's own
    ``wait_for``) is not one; nor is anything this cannot read (an exception whose ``str()`` raises)."""
    try:
        return _transient(exc)
    except Exception:  # noqa: BLE001 - a broken exception is a failure of its event, not an outage
        return False


def _transient(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _PROGRAMMING_ERRORS) and not isinstance(current, OSError):
            return False
        if isinstance(current, ConnectionError) or type(current).__name__ in _OUTAGE_TYPE_NAMES:
            return True
        if isinstance(current, socket.gaierror | ssl.SSLEOFError):
            return True
        if isinstance(current, OSError) and current.errno in _OUTAGE_ERRNOS:
            return True
        connect_failed = any(words in str(current).lower() for words in _CONNECT_FAILED)
        if isinstance(current, OSError) and current.errno is None and connect_failed:
            return not isinstance(current, TimeoutError)
        if isinstance(current, BaseExceptionGroup) and any(_transient(inner) for inner in current.exceptions):
            return True
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in _OUTAGE_SQLSTATES):
            return True
        text = str(current).lower()
        if any(message in text for message in _OUTAGE_MESSAGES):
            return True
        current = current.__cause__ or current.__context__
    return False


def cancelling_this_task() -> bool:
    """Whether the running task is being cancelled (``Task.cancelling()``), as opposed to a
    ``CancelledError`` some callee raised on its own (a library's ``wait_for`` leaking one, a
    handler raising it by mistake): only the former may end a worker loop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def retry_in_halves(
    batch: Sequence[T], run: Callable[[Sequence[T]], Awaitable[None]], single: Callable[[T], Awaitable[None]]
) -> None:
    """After ``run(batch)`` failed, isolate the bad items: run each half again, splitting the halves
    that fail, down to ``single(item)``, which handles (or records) one item's failure.

    Items keep their order. One poison event in a batch of n costs about 2·log2(n) retried
    batches instead of n single-event transactions (20,000 for a full recorder batch).
    """
    if len(batch) <= 1:
        for item in batch:
            await single(item)
        return
    mid = len(batch) // 2
    for half in (batch[:mid], batch[mid:]):
        if len(half) == 1:
            await single(half[0])
            continue
        try:
            await run(half)
        except asyncio.CancelledError:
            if cancelling_this_task():
                raise
            failed = True  # raised by the handler, not a cancel of this worker: a failure like any
        except Exception:  # noqa: BLE001 - split further; single() reports what is really bad
            failed = True
        else:
            failed = False
        # Outside the except block: an item's own failure must not chain the half's (as its
        # __context__), whose message may quote another member's event (bot.dead_letters).
        if failed:
            await retry_in_halves(half, run, single)


@runtime_checkable
class EventBus(Protocol):
    """What adapters and brains need from a bus; in-process and Redis implementations exist."""

    def subscribe(
        self,
        event_type: type[Event],
        handler: Handler,
        *,
        name: str,
        concurrency: int = 1,
    ) -> None:
        """Call ``handler(event)`` for every published event that is an instance of ``event_type``."""

    def subscribe_batch(
        self,
        event_types: tuple[type[Event], ...],
        handler: BatchHandler,
        *,
        name: str,
        max_batch: int = 500,
    ) -> None:
        """Call ``handler(events)`` with ordered batches of events of any of ``event_types``."""

    async def publish(self, event: Event) -> bool:
        """Deliver ``event``; returns False when it was dropped as a duplicate."""

    async def publish_many(self, events: Sequence[Event]) -> int:
        """Deliver ``events`` in order, as :meth:`publish` would one by one; returns how many were
        not dropped. Importers use it: one call per file instead of one per message."""

    async def start(self) -> None:
        """Start delivering."""

    async def drain(self) -> None:
        """Wait until every published event has been handled (tests, shutdown)."""

    async def close(self) -> None:
        """Drain, then stop the workers."""


@dataclass(slots=True)
class BusStats:
    """Counters for metrics and tests."""

    published: int = 0
    duplicates: int = 0
    handled: int = 0
    failed: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)


class _RecentIds:
    """A bounded set of recently seen event ids (LRU)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, event_id: str) -> bool:
        """Record ``event_id``; False if it was already present."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True

    def discard(self, event_id: str) -> None:
        """Forget ``event_id``: its delivery did not complete, so a redelivery must get through."""
        self._ids.pop(event_id, None)


@dataclass(slots=True)
class _Subscription:
    name: str
    event_types: tuple[type[Event], ...]
    handler: Callable[[Any], Awaitable[None]]
    batch: bool
    max_batch: int
    concurrency: int
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    workers: list[asyncio.Task[None]] = field(default_factory=list)
    outage_since: float | None = None  # monotonic time of the first failure of the current outage

    @property
    def backlog(self) -> int:
        """Queued events at which a publisher yields to the loop: a full batch, or a few per worker."""
        return self.max_batch if self.batch else 16 * self.concurrency


class InProcessBus:
    """An asyncio bus for a single process (the embedded default).

    Args:
        queue_size: capacity of each subscription's queue; ``publish`` waits when one is full. A
            batch subscription's queue holds at least two of its batches, so the next batch fills
            while the handler writes the last one.
        dedupe_window: how many recent inbound event ids are remembered for de-duplication.
        drain_timeout_s: how long :meth:`close` waits for queued events to be handled before it
            cancels the handlers still running (default :data:`DRAIN_TIMEOUT_S`).
        outage_retry_s: how long a handler failing with an outage (:func:`is_transient_failure`)
            is retried in place before the failure counts (default :data:`OUTAGE_RETRY_S`).
        publish_stall_s: how long a publisher may wait for room in a full queue before
            :meth:`health` fails the bus (default :data:`PUBLISH_STALL_S`).
    """

    kind = "memory"

    def __init__(
        self,
        *,
        queue_size: int = 10_000,
        dedupe_window: int = 100_000,
        drain_timeout_s: float | None = None,
        outage_retry_s: float = OUTAGE_RETRY_S,
        publish_stall_s: float = PUBLISH_STALL_S,
    ) -> None:
        self._queue_size = queue_size
        self._drain_timeout_s = DRAIN_TIMEOUT_S if drain_timeout_s is None else drain_timeout_s
        self._outage_retry_s = outage_retry_s
        self._publish_stall_s = publish_stall_s
        self._subs: list[_Subscription] = []
        self._recent = _RecentIds(dedupe_window)
        self._started = False
        self._closed = False
        self._last_turn = 0.0  # when a publisher last yielded to the loop because of a backlog
        # Publishers waiting for room in a full queue: token -> (subscription, since when).
        self._blocked: dict[int, tuple[str, float]] = {}
        self._tokens = itertools.count()
        self.stats = BusStats()

    # -- subscription -------------------------------------------------------------------------
    def subscribe(
        self,
        event_type: type[Event],
        handler: Handler,
        *,
        name: str,
        concurrency: int = 1,
    ) -> None:
        """Subscribe ``handler`` to ``event_type`` (and its subclasses)."""
        self._add(_Subscription(name, (event_type,), handler, False, 1, max(1, concurrency)))

    def subscribe_batch(
        self,
        event_types: tuple[type[Event], ...],
        handler: BatchHandler,
        *,
        name: str,
        max_batch: int = 500,
    ) -> None:
        """Subscribe a batch handler; it receives events in publish order, up to ``max_batch``."""
        self._add(_Subscription(name, event_types, handler, True, max_batch, 1))

    def _add(self, sub: _Subscription) -> None:
        if any(s.name == sub.name for s in self._subs):
            raise ValueError(f"duplicate subscription name: {sub.name}")
        size = max(self._queue_size, 2 * sub.max_batch) if sub.batch else self._queue_size
        sub.queue = asyncio.Queue(maxsize=size)
        self._subs.append(sub)
        if self._started:
            self._spawn(sub)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Start one worker task per subscription slot."""
        if self._started:
            return
        self._started = True
        for sub in self._subs:
            self._spawn(sub)

    def _spawn(self, sub: _Subscription) -> None:
        for i in range(sub.concurrency):
            task_name = f"bus:{sub.name}" if sub.concurrency == 1 else f"bus:{sub.name}#{i}"
            worker = self._batch_worker(sub) if sub.batch else self._worker(sub)
            task = asyncio.create_task(worker, name=task_name)
            task.add_done_callback(partial(self._worker_ended, sub))
            sub.workers.append(task)

    def _worker_ended(self, sub: _Subscription, task: asyncio.Task[None]) -> None:
        """A worker ends only when close() cancels it; any other end leaves its subscription short
        of a worker (none left: its events are never handled, see :meth:`health`)."""
        if self._closed:
            return
        error = None if task.cancelled() else task.exception()
        log.error(
            "bus worker %s ended while the bus runs (%s); %d of %d workers of %s left",
            task.get_name(),
            "cancelled" if error is None else type(error).__name__,
            sum(not w.done() for w in sub.workers),
            sub.concurrency,
            sub.name,
        )

    async def publish(self, event: Event) -> bool:
        """Queue ``event`` for every matching subscription, waiting while a queue is full."""
        return await self.publish_many((event,)) == 1

    async def publish_many(self, events: Sequence[Event]) -> int:
        """Queue ``events`` in order for every matching subscription; an inbound event seen recently
        is dropped as a duplicate. A queue with room takes an event at once (no coroutine per event),
        a full one is waited on (back-pressure)."""
        if self._closed:
            raise RuntimeError("bus is closed")
        if not self._started:
            await self.start()
        kept = 0
        recent, subs, stats = self._recent, self._subs, self.stats
        for event in events:
            inbound = isinstance(event, InboundEvent)
            if inbound and not recent.add(event.event_id):
                stats.duplicates += 1
                continue
            try:
                for sub in subs:
                    if isinstance(event, sub.event_types):
                        try:
                            sub.queue.put_nowait(event)
                        except asyncio.QueueFull:
                            await self._put_waiting(sub, event)
            except BaseException:
                # Cancelled while waiting for room (the platform's request timed out, the adapter
                # reconnects): some subscribers may not have it, so the platform's redelivery must
                # not be dropped as a duplicate. One that did get it sees it twice: handlers are
                # idempotent under redelivery, a lost event is lost for good.
                if inbound:
                    recent.discard(event.event_id)
                raise
            kept += 1
            stats.published += 1
        # A producer that never awaits (an import, a replayed burst) would hold the loop until a queue
        # is full, while the handlers' I/O results (the store's writer thread) wait for the loop and
        # that I/O sits idle. While a subscriber has a full batch waiting, give the loop a turn every
        # couple of milliseconds (a turn per call would cost more than the events themselves).
        now = time.perf_counter()
        if now - self._last_turn >= _TURN_INTERVAL_S and any(sub.queue.qsize() >= sub.backlog for sub in subs):
            self._last_turn = now
            await asyncio.sleep(0)
        return kept

    async def _put_waiting(self, sub: _Subscription, event: Event) -> None:
        """Wait for room in ``sub``'s full queue, noted for :meth:`health`."""
        token = next(self._tokens)
        self._blocked[token] = (sub.name, time.monotonic())
        try:
            await sub.queue.put(event)
        finally:
            del self._blocked[token]

    def queue_sizes(self) -> dict[str, int]:
        """Events waiting in each subscription's queue (the ``guildhall_queue_lag_events`` gauge)."""
        return {sub.name: sub.queue.qsize() for sub in self._subs}

    async def health(self, timeout_s: float | None = None) -> dict[str, Any]:
        """The bus's part of ``/healthz`` (see :func:`bot.metrics.check_health`).

        ``{"bus": "memory", "queued": n, "failed": n}``, plus ``"failure": reason`` when the bus
        cannot do its work: a subscription has no live worker (its events are never handled, its
        queue fills, publishers block), or a publisher has waited more than ``publish_stall_s`` for
        room in a full queue (a wedged handler). ``timeout_s`` is unused: nothing here waits.
        """
        body: dict[str, Any] = {
            "bus": "memory",
            "queued": sum(sub.queue.qsize() for sub in self._subs),
            "failed": self.stats.failed,
        }
        if not self._started or self._closed:
            return body
        problems: list[str] = []
        dead = [sub.name for sub in self._subs if all(w.done() for w in sub.workers)]
        if dead:
            problems.append(f"bus subscription(s) without a live worker: {', '.join(dead)}")
        if self._blocked:
            name, since = min(self._blocked.values(), key=lambda blocked: blocked[1])
            waited = time.monotonic() - since
            if waited > self._publish_stall_s:
                problems.append(f"a publisher has waited {waited:.0f} s for room in the queue of {name}")
        if problems:
            body["failure"] = "; ".join(problems)
        return body

    async def drain(self) -> None:
        """Wait until all queues are empty and every handler call has returned."""
        while True:
            pending = [s for s in self._subs if s.queue._unfinished_tasks]  # type: ignore[attr-defined]
            if not pending:
                return
            for sub in pending:
                await sub.queue.join()

    async def close(self) -> None:
        """Drain (for at most ``drain_timeout_s``), then cancel the workers; publishing afterwards raises.

        A handler that hangs (a remote call without a timeout) must not keep the process from
        exiting on SIGTERM: past the deadline, the subscriptions still busy are logged with what
        they had left, and their workers are cancelled.
        """
        if self._closed:
            return
        try:
            await asyncio.wait_for(self.drain(), self._drain_timeout_s)
        except TimeoutError:
            for sub in self._subs:
                unfinished = sub.queue._unfinished_tasks  # type: ignore[attr-defined]
                if unfinished:
                    log.error(
                        "bus closing: subscription %s still busy after %g s (%d events unhandled, %d of them "
                        "queued); cancelling it",
                        sub.name,
                        self._drain_timeout_s,
                        unfinished,
                        sub.queue.qsize(),
                    )
        self._closed = True
        stuck = await cancel_until_done([w for s in self._subs for w in s.workers], within_s=10)
        if stuck:
            log.error("%d bus workers did not stop", len(stuck))

    # -- workers -------------------------------------------------------------------------------
    async def _worker(self, sub: _Subscription) -> None:
        while True:
            event = await sub.queue.get()
            try:
                failure = await self._through_outages(sub, partial(sub.handler, event), self._outage_deadline())
                if failure is None:
                    self.stats.handled += 1
                else:
                    self._record_failure(sub.name, event, failure)
            finally:
                sub.queue.task_done()

    async def _batch_worker(self, sub: _Subscription) -> None:
        while True:
            batch = [await sub.queue.get()]
            while len(batch) < sub.max_batch:
                try:
                    batch.append(sub.queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                # One outage budget for the batch and the halves after it: a persistent outage must
                # not cost each of 500 events its own 15 minutes.
                deadline = self._outage_deadline()
                failure = await self._through_outages(sub, partial(sub.handler, batch), deadline)
                if failure is None:
                    self.stats.handled += len(batch)
                else:
                    # One bad event must not lose its neighbours: retry in halves down to single
                    # events (outside the except block, so no event's failure chains the batch's).
                    # The type only: the message may quote any member of the batch.
                    log.debug("batch of %d failed (%s): retrying in halves", len(batch), type(failure).__name__)
                    await retry_in_halves(
                        batch, partial(self._run_batch, sub, deadline), partial(self._run_single, sub, deadline)
                    )
            finally:
                for _ in batch:
                    sub.queue.task_done()

    async def _run_batch(self, sub: _Subscription, deadline: float, batch: Sequence[Event]) -> None:
        failure = await self._through_outages(sub, partial(sub.handler, batch), deadline)
        if failure is not None:
            raise failure
        self.stats.handled += len(batch)

    async def _run_single(self, sub: _Subscription, deadline: float, event: Event) -> None:
        failure = await self._through_outages(sub, partial(sub.handler, [event]), deadline)
        if failure is None:
            self.stats.handled += 1
        else:
            self._record_failure(sub.name, event, failure)

    def _outage_deadline(self) -> float:
        return time.monotonic() + self._outage_retry_s

    async def _through_outages(
        self, sub: _Subscription, attempt: Callable[[], Awaitable[None]], deadline: float
    ) -> BaseException | None:
        """Run ``attempt()``; while it fails with an outage (:func:`is_transient_failure`), wait
        (capped backoff) and run it again, until ``deadline`` (monotonic). Returns the last failure
        (None: it succeeded). A ``CancelledError`` the handler raised while this worker is not being
        cancelled is returned as a failure: re-raised, it would end the worker for good.

        The worker reads nothing else meanwhile, so events keep their order and a subscription whose
        store is down does not burn through its queue; publishers feel it as back-pressure. The
        first failure of an outage is logged as a warning (once per subscription), its end at info.
        """
        delay = _OUTAGE_BACKOFF_FIRST_S
        while True:
            failure: BaseException | None = None
            try:
                await attempt()
            except asyncio.CancelledError as exc:
                if cancelling_this_task():
                    raise
                failure = exc
            except Exception as exc:  # noqa: BLE001 - classified below
                failure = exc
            now = time.monotonic()
            if failure is None or not is_transient_failure(failure):
                if sub.outage_since is not None:
                    log.info("%s: the outage is over after %.0f s", sub.name, now - sub.outage_since)
                    sub.outage_since = None
                return failure
            if now >= deadline:
                if sub.outage_since is not None:  # once: the halves of a batch past its budget fail too
                    log.error(
                        "%s: still failing after %.0f s of retries (%s); counting failed deliveries",
                        sub.name,
                        now - sub.outage_since,
                        type(failure).__name__,
                    )
                    sub.outage_since = None
                return failure
            if sub.outage_since is None:
                sub.outage_since = now
                # The type only: the message of a store's error may quote the event.
                log.warning(
                    "%s: a service is unreachable (%s); retrying for up to %.0f s before counting a failure",
                    sub.name,
                    type(failure).__name__,
                    self._outage_retry_s,
                )
            await asyncio.sleep(min(delay, max(0.0, deadline - now)))
            delay = min(delay * 2, _OUTAGE_BACKOFF_MAX_S)

    def _record_failure(self, sub_name: str, event: Event, exc: BaseException) -> None:
        self.stats.failed += 1
        if len(self.stats.failures) < 1000:
            self.stats.failures.append((sub_name, type(event).__name__, describe_failure(exc, event)))
        # Masked (bot.dead_letters): repr(exc) and a traceback's last line may quote the member's
        # message, and logs are beyond /forget-me.
        log.error(
            "handler %s failed on %s (%s): %s",
            sub_name,
            type(event).__name__,
            getattr(event, "event_id", "?"),
            failure_report(exc, event),
        )


ActionHandler = Callable[[Any], Awaitable[None]]


def subscribe_platform_actions(
    bus: EventBus, platform: Platform, handlers: Sequence[tuple[type[Action], ActionHandler]]
) -> None:
    """Subscribe a platform adapter's handlers, each to its action type, for ``platform``'s actions only.

    One subscription (so one worker) per action type keeps posts to a thread in order while, say, a
    rate-limit back-off on reactions does not hold up answers. Subscriptions are named
    ``<platform>.<ActionType>`` for logs and metrics.
    """
    for action_type, handler in handlers:
        bus.subscribe(action_type, _for_platform(platform, handler), name=f"{platform.value}.{action_type.__name__}")


def _for_platform(platform: Platform, handler: ActionHandler) -> Callable[[Event], Awaitable[None]]:
    async def run(action: Event) -> None:
        if isinstance(action, Action) and action.platform is platform:
            await handler(action)

    run.__name__ = getattr(handler, "__name__", "handler")
    return run
