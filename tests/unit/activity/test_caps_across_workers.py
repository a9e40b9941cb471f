"""The daily and per-minute caps hold over every worker: a Redis bus's consumer group spreads one
member's events over its workers, and each worker alone allowing the full cap multiplied it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.events import Event
from bot.recorder import Recorder
from bot.store import Store, open_store
from bot.testing import make_message
from brain.activity.counters import ActivityCounters
from brain.activity.scoring import REPLY_THREADS_PER_DAY
from tests.store_backends import fresh_database
from tests.unit.activity.counting import ANSWER, apply, totals


@pytest.mark.parametrize("mode", ["live", "two workers"])
async def test_reply_credits_per_day(store: Store, mode: str) -> None:
    events: list[Event] = []
    for n in range(REPLY_THREADS_PER_DAY + 6):  # one reply to each of more threads than the day allows
        q = f"q{n}"
        events.append(
            make_message("how do I pin a version?", author=f"asker{n}", chan="help", message_id=q, minutes=n * 3)
        )
        events.append(
            make_message(ANSWER, author="farmer", chan="help", message_id=f"a{n}", thread_id=q, minutes=n * 3 + 1)
        )
    await apply(store, events, mode=mode)
    farmer = await totals(store, "farmer")
    assert farmer["replies"] == REPLY_THREADS_PER_DAY
    assert farmer["messages"] == REPLY_THREADS_PER_DAY + 6  # volume still shows


@pytest.mark.parametrize("mode", ["live", "two workers"])
async def test_messages_per_minute(store: Store, mode: str) -> None:
    events: list[Event] = [
        make_message(f"{ANSWER} number {i}", author="spammer", chan="help", message_id=f"s{i}", minutes=1)
        for i in range(8)
    ]
    events.append(make_message(f"{ANSWER} later", author="spammer", chan="help", message_id="s-late", minutes=2))
    await apply(store, events, mode=mode)
    assert (await totals(store, "spammer"))["messages"] == 5 + 1  # per_minute_cap 5, then a new minute


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_concurrent_batches_of_two_workers_hold_the_cap(backend: str, tmp_path: Path) -> None:
    """A consumer group hands one member's burst to two workers at the same time: each read the
    counts before the other committed, so on PostgreSQL both passed the per-minute cap (8 of 8)."""
    events: list[Event] = [
        make_message(f"{ANSWER} number {i}", author="spammer", chan="help", message_id=f"s{i}", minutes=1)
        for i in range(8)
    ]
    async with _two_stores(backend, tmp_path) as (one, two):
        await Recorder(one).handle_batch(events)
        first = ActivityCounters(one, ZoneInfo("UTC"), shared_writers=True)
        second = ActivityCounters(two, ZoneInfo("UTC"), shared_writers=True)
        await asyncio.gather(first.apply(events[0::2]), second.apply(events[1::2]))
        assert (await totals(one, "spammer"))["messages"] == 5


@asynccontextmanager
async def _two_stores(backend: str, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores (two worker processes' connections) on one fresh database."""
    async with fresh_database(backend, tmp_path) as url:
        one, two = await open_store(url), await open_store(url)
        try:
            yield one, two
        finally:
            await one.close()
            await two.close()
