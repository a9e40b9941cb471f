"""Human-first timers: a question in a help channel waits N minutes for a human before the bot speaks.

Timers sleep on the app's clock (a fake one in tests), so nothing here calls ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.events import MessagePosted, UserRef

log = logging.getLogger(__name__)

OnDue = Callable[[MessagePosted], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class PendingAnswer:
    """A question waiting for a human."""

    event: MessagePosted
    due: datetime
    task: asyncio.Task[None]


class HumanFirstQueue:
    """Pending answers keyed by thread; a human reply cancels, the deadline fires ``on_due``.

    Args:
        clock: time source.
        on_due: called with the question when nobody answered in time.
        max_pending: bound on waiting questions (the oldest is answered at once when exceeded).
    """

    def __init__(self, clock: Clock, on_due: OnDue, *, max_pending: int = 10_000) -> None:
        self._clock = clock
        self._on_due = on_due
        self._max = max_pending
        self._items: dict[str, PendingAnswer] = {}
        # Every task this queue started, until it ends: the loop keeps only weak references to
        # tasks, so an unreferenced one can vanish mid-answer, and close() must reach them all.
        self._tasks: set[asyncio.Task[None]] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def running(self) -> int:
        """Tasks this queue started that have not ended yet (timers, and answers given early)."""
        return len(self._tasks)

    def schedule(self, key: str, event: MessagePosted, due: datetime) -> bool:
        """Wait for a human on ``key`` until ``due``; False if already waiting."""
        if key in self._items:
            return False
        if len(self._items) >= self._max:
            oldest = min(self._items, key=lambda k: self._items[k].due)
            log.warning("human-first queue full; answering the oldest question now")
            self._items[oldest].task.cancel()
            item = self._items.pop(oldest)
            self._spawn(self._fire(oldest, item.event), f"human-first:{oldest}:now")
        task = self._spawn(self._wait(key, event, due), f"human-first:{key}")
        self._items[key] = PendingAnswer(event, due, task)
        return True

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def cancel(self, key: str) -> bool:
        """A human answered: forget the pending answer. True if one was pending."""
        item = self._items.pop(key, None)
        if item is None:
            return False
        item.task.cancel()
        return True

    def cancel_author(self, user: UserRef) -> int:
        """Drop every pending answer to ``user``'s questions (``/forget-me``); how many there were."""
        keys = [key for key, item in self._items.items() if item.event.author.key == user.key]
        for key in keys:
            self.cancel(key)
        return len(keys)

    async def _wait(self, key: str, event: MessagePosted, due: datetime) -> None:
        await self._clock.sleep_until(due)
        if self._items.get(key) is None or self._items[key].event is not event:
            return
        del self._items[key]
        await self._fire(key, event)

    async def _fire(self, key: str, event: MessagePosted) -> None:
        try:
            await self._on_due(event)
        except Exception:
            log.exception("human-first answer failed for %s", key)

    async def close(self) -> None:
        """Cancel every timer (and answers the overflow started early)."""
        tasks = list(self._tasks)
        self._items.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
