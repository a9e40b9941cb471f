"""Stopping asyncio tasks reliably."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any


async def cancel_until_done(tasks: Sequence[asyncio.Task[Any]], *, within_s: float) -> set[asyncio.Task[Any]]:
    """Cancel ``tasks`` and wait for them, cancelling again any that outlive a cancel, for at most
    ``within_s`` seconds; returns the tasks still running then.

    One cancel is not always enough: on Python 3.11, ``asyncio.wait_for`` (which redis-py wraps
    around every send, and handlers use for timeouts) swallows a cancel that arrives as its inner
    call completes and returns normally (CPython gh-86296, fixed in 3.12), so a worker loop goes on.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(0.5, left))
    return pending
