"""A question is answered once, whichever path reaches it first."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.events import SendMessage
from bot.ml import ChatMessage, Generation
from bot.testing import ScriptedLLM, channel, make_message
from bot.testing.builders import BASE_TIME
from brain.qa.brain import QABrain


class SlowLLM(ScriptedLLM):
    """A scripted model whose first answer waits until the test lets it go (a slow local model)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        if not self.started.is_set():
            self.started.set()
            await self.release.wait()
        return await super().generate(messages, **kwargs)


async def mention_answer_under_way(make_app: Any, settings: Any) -> tuple[Any, Any, SlowLLM, asyncio.Task[None]]:
    """A help channel answered after 1 minute; a mention of the bot there, its answer held in a slow
    model, and the clock 2 minutes on: (app, adapter, the model, the task draining the bus)."""
    clock = FakeClock(BASE_TIME)
    tuned = settings.model_copy(
        update={"qa": settings.qa.model_copy(update={"answer_unanswered_after_min": 1, "help_channel_ids": ["help"]})}
    )
    llm = SlowLLM("Run make clean-cache to reset the cache [1].")
    app, adapter = await make_app(brains=["qa"], llm=llm, clock=clock, settings_override=tuned)
    await adapter.inject(make_message("to reset the cache run make clean-cache", author="bob", minutes=-600))
    await app.bus.drain()
    question = make_message(
        "<@U9> how do I reset the cache?", author="alice", chan=channel("help"), message_id="q1", mentions_bot=True
    )
    await adapter.inject(question)
    drained = asyncio.create_task(app.bus.drain())
    await asyncio.wait_for(llm.started.wait(), 60)
    await clock.advance(timedelta(minutes=2))
    return app, adapter, llm, drained


async def test_a_mention_in_a_help_channel_is_not_answered_again_by_the_timer_meanwhile(
    make_app: Any, settings: Any
) -> None:
    """A slow model keeps the mention's answer unlogged for a while: the help-channel run that
    comes meanwhile must not answer the same question a second time."""
    app, adapter, llm, drained = await mention_answer_under_way(make_app, settings)
    brain: QABrain = app.brain("qa")
    timer = asyncio.create_task(brain.answer_unanswered())
    await asyncio.sleep(0)
    llm.release.set()
    await asyncio.wait_for(asyncio.gather(drained, timer), 60)
    await app.bus.drain()
    assert [a.thread_id for a in adapter.of_type(SendMessage)] == ["q1"]


async def test_a_mention_answered_while_the_timer_read_its_candidates_is_not_answered_again(
    make_app: Any, settings: Any
) -> None:
    """The timer read the help channel before the mention's answer was logged, and looks at the
    question only after it was: it must see the answer then (a race CI hit under PostgreSQL)."""
    app, adapter, llm, drained = await mention_answer_under_way(make_app, settings)
    brain: QABrain = app.brain("qa")
    db = app.store.db
    read = db.fetchall

    async def candidates_then_the_mention_finishes(sql: str, params: Any = ()) -> Any:
        rows = await read(sql, params)
        if "FROM messages m WHERE" in sql:  # the timer's candidates, read while the answer is unlogged
            llm.release.set()
            await asyncio.wait_for(drained, 60)
        return rows

    db.fetchall = candidates_then_the_mention_finishes
    try:
        await asyncio.wait_for(brain.answer_unanswered(), 60)
    finally:
        db.fetchall = read
    assert [a.thread_id for a in adapter.of_type(SendMessage)] == ["q1"]


async def test_the_claim_on_an_unanswered_question_outlasts_a_first_model_load(make_app: Any) -> None:
    """An answer waits for a local model still loading outside its timer (up to
    MODEL_LOAD_TIMEOUT_S): the claim that keeps other workers off the question must cover that wait,
    or a second worker answers the same question when the first load is slow."""
    from bot.testing import ScriptedLLM
    from brain.qa.answerer import MODEL_LOAD_TIMEOUT_S

    class LoadingLLM(ScriptedLLM):
        loaded = False

    llm = LoadingLLM("x")
    app, _ = await make_app(brains=["qa"], llm=llm)
    brain: QABrain = app.brain("qa")
    ttls: list[float] = []

    async def claim_once(key: str, ttl_s: float) -> bool:
        ttls.append(ttl_s)
        return True

    brain.ctx.bus.claim_once = claim_once  # type: ignore[attr-defined]
    assert await brain._claim_question("console", "local", "q1")
    llm.loaded = True
    assert await brain._claim_question("console", "local", "q2")
    cold, warm = ttls
    assert cold >= warm + MODEL_LOAD_TIMEOUT_S
    assert warm >= brain.answer_timeout_s()
