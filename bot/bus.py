"""The event bus: adapters publish normalized events, brains subscribe by event class.

Design (mirrors Redis Streams consumer groups so both buses behave alike):

* every subscription owns a bounded queue and one or more worker tasks named after it, so one
  slow brain never delays another, and events reach each handler in publish order;
* ``publish`` awaits when a queue is full: a burst slows the producer (back-pressure) instead of
  growing memory without bound;
* a handler's exception is logged with the subscription and event names and never stops the bus;
* inbound events are de-duplicated by ``event_id`` inside a bounded window, so a redelivered fact
  (Slack retry, gateway resume) is dropped before any handler sees it;
* batch subscribers receive lists of events: the store recorder writes whole batches in one
  transaction, which is what makes imports fast.
"""

from __future__ import annotations

import asyncio
import logging
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

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None]]
BatchHandler = Callable[[Sequence[Any]], Awaitable[None]]


T = TypeVar("T")


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
            raise
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
    """

    def __init__(
        self, *, queue_size: int = 10_000, dedupe_window: int = 100_000, drain_timeout_s: float | None = None
    ) -> None:
        self._queue_size = queue_size
        self._drain_timeout_s = DRAIN_TIMEOUT_S if drain_timeout_s is None else drain_timeout_s
        self._subs: list[_Subscription] = []
        self._recent = _RecentIds(dedupe_window)
        self._started = False
        self._closed = False
        self._last_turn = 0.0  # when a publisher last yielded to the loop because of a backlog
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
            sub.workers.append(asyncio.create_task(worker, name=task_name))

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
            if isinstance(event, InboundEvent) and not recent.add(event.event_id):
                stats.duplicates += 1
                continue
            kept += 1
            stats.published += 1
            for sub in subs:
                if isinstance(event, sub.event_types):
                    try:
                        sub.queue.put_nowait(event)
                    except asyncio.QueueFull:
                        await sub.queue.put(event)
        # A producer that never awaits (an import, a replayed burst) would hold the loop until a queue
        # is full, while the handlers' I/O results (the store's writer thread) wait for the loop and
        # that I/O sits idle. While a subscriber has a full batch waiting, give the loop a turn every
        # couple of milliseconds (a turn per call would cost more than the events themselves).
        now = time.perf_counter()
        if now - self._last_turn >= _TURN_INTERVAL_S and any(sub.queue.qsize() >= sub.backlog for sub in subs):
            self._last_turn = now
            await asyncio.sleep(0)
        return kept

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
                await sub.handler(event)
                self.stats.handled += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - isolation is the point
                self._record_failure(sub.name, event, exc)
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
                failure: Exception | None = None
                try:
                    await sub.handler(batch)
                    self.stats.handled += len(batch)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    failure = exc
                if failure is not None:
                    # One bad event must not lose its neighbours: retry in halves down to single
                    # events (outside the except block, so no event's failure chains the batch's).
                    # The type only: the message may quote any member of the batch.
                    log.debug("batch of %d failed (%s): retrying in halves", len(batch), type(failure).__name__)
                    await retry_in_halves(batch, partial(self._run_batch, sub), partial(self._run_single, sub))
            finally:
                for _ in batch:
                    sub.queue.task_done()

    async def _run_batch(self, sub: _Subscription, batch: Sequence[Event]) -> None:
        await sub.handler(batch)
        self.stats.handled += len(batch)

    async def _run_single(self, sub: _Subscription, event: Event) -> None:
        try:
            await self._run_batch(sub, [event])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            self._record_failure(sub.name, event, exc)

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
