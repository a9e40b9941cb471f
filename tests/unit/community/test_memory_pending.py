"""Human-first timers over weeks of uptime: every timer and early answer ends and is forgotten."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import MessagePosted, SendMessage
from bot.testing import ScriptedLLM, channel, make_message
from bot.testing.builders import BASE_TIME
from brain.community.pending import HumanFirstQueue

HELP = channel("help")


@pytest.fixture
def help_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "qa": settings.qa.model_copy(update={"help_channel_ids": ["help"]}),
            "community": settings.community.model_copy(update={"human_first_minutes": 10.0}),
        }
    )


async def test_an_answer_forced_early_by_a_full_queue_is_kept_and_its_failure_logged(caplog) -> None:
    clock = FakeClock(BASE_TIME)
    called = asyncio.Event()

    async def on_due(event: MessagePosted) -> None:
        called.set()
        raise RuntimeError(f"bus down for {event.message_id}")

    queue = HumanFirstQueue(clock, on_due, max_pending=2)
    due = BASE_TIME + timedelta(minutes=10)
    for n in range(3):  # the third question pushes the first one out, to be answered now
        assert queue.schedule(f"k{n}", make_message("how?", message_id=f"m{n}"), due)
    assert len(queue) == 2
    with caplog.at_level(logging.ERROR, logger="brain.community.pending"):
        await called.wait()
        await asyncio.sleep(0)  # let the failed task finish its step (no time passes)
    assert "human-first answer failed for k0" in caplog.text
    await queue.close()
    assert len(queue) == 0 and queue.running == 0


async def test_many_help_questions_leave_no_timer_or_task_behind(make_app, help_settings) -> None:
    clock = FakeClock(BASE_TIME)
    app, adapter = await make_app(
        brains=["qa", "community"], llm=ScriptedLLM("NOT_FOUND"), clock=clock, settings_override=help_settings
    )
    queue: HumanFirstQueue = app.brain("community")._queue  # type: ignore[attr-defined]
    # A small bound, so the overflow path (answer the oldest now) is driven too.
    queue._max = 5
    for n in range(40):
        await adapter.inject(make_message(f"how do I fix error {n}?", author="dan", chan=HELP, message_id=f"q{n}"))
        if n % 2:  # every other question gets a human answer before its timer fires
            await adapter.inject(
                make_message("try restarting", author="bob", chan=HELP, message_id=f"r{n}", thread_id=f"q{n}")
            )
        await app.bus.drain()
        assert len(queue) <= 5
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    assert len(queue) == 0 and queue.running == 0
    assert all(m.thread_id and int(m.thread_id[1:]) % 2 == 0 for m in adapter.of_type(SendMessage))
