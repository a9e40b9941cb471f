"""Shutdown: a step that fails is logged, and the brains and the store are still closed."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.app import build_app
from bot.brain import Brain
from bot.bus import InProcessBus
from bot.clock import FakeClock
from bot.config import Settings
from bot.store import open_store


class SpillFailsBus(InProcessBus):
    """A bus whose close fails after stopping its workers, as a Redis bus does when the disk for its
    spill file is full or the connection is gone."""

    async def close(self) -> None:
        await super().close()
        raise OSError(28, "No space left on device")


class ClosingStore:
    """The real SQLite store, recording whether it was closed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def close(self) -> None:
        self.closed = True
        await self.inner.close()


torn_down: list[str] = []


class FlushingBrain(Brain):
    """Stands in for a brain that flushes state (the QA index) on teardown."""

    name = "flushing"

    async def teardown(self) -> None:
        torn_down.append(self.name)


async def test_a_bus_that_fails_to_close_still_lets_brains_tear_down_and_the_store_close(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    torn_down.clear()
    store = ClosingStore(await open_store("sqlite://:memory:"))
    app = await build_app(
        settings, store=store, bus=SpillFailsBus(), clock=FakeClock(), extra_brains=[FlushingBrain], with_core=False
    )
    await app.start()
    with caplog.at_level(logging.ERROR, logger="bot.app"):
        await app.stop()
    assert torn_down == ["flushing"]
    assert store.closed
    assert any("bus failed to stop" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_adapters_are_up_before_the_scheduler_runs_anything(settings: Settings) -> None:
    # A run caught up on start posts at once: an adapter not logged in yet (Discord) failed that
    # post, and the run log marked the slot done all the same.
    from bot.testing import FakeAdapter

    seen: list[int] = []

    class LoggingIn(FakeAdapter):
        async def start(self) -> None:
            seen.append(len(app.scheduler._tasks))  # jobs started before this adapter was up

    app = await build_app(settings, store=await open_store("sqlite://:memory:"), clock=FakeClock(), with_core=True)
    app.add_adapter(LoggingIn())
    await app.start()
    try:
        assert seen == [0] and app.scheduler._tasks  # the core brain's jobs start, after the adapter
    finally:
        await app.stop()
