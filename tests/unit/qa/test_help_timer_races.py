"""The help-channel timer and what happens while an answer is generated: a mention in the question's
thread, a member's reply, a deleted question. One answer per question, none on top of a member's."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.events import MessageDeleted, SendMessage
from bot.ml import ChatMessage, Generation
from bot.testing import ScriptedLLM, channel, make_message
from bot.testing.builders import BASE_TIME
from brain.qa.brain import QABrain
from tests.unit.qa.test_answered_once import SlowLLM

HELP = channel("help")


async def help_channel_app(
    make_app: Any, settings: Any, llm: ScriptedLLM | None = None
) -> tuple[Any, Any, SlowLLM, FakeClock]:
    """A help channel answered after 1 minute, a source that answers alice's #help question q1
    (posted 2 minutes ago, not answered yet), and a model whose first answer waits for the test.

    The timer is run by the test (``answer_unanswered``): the clock is not advanced to reach q1,
    which would start the scheduler's own run too, and a second run would blur what each one did."""
    clock = FakeClock(BASE_TIME)
    tuned = settings.model_copy(
        update={"qa": settings.qa.model_copy(update={"answer_unanswered_after_min": 1, "help_channel_ids": ["help"]})}
    )
    llm = llm or SlowLLM("Run make clean-cache to reset the cache [1].")
    app, adapter = await make_app(brains=["qa"], llm=llm, clock=clock, settings_override=tuned)
    await adapter.inject(make_message("to reset the cache run make clean-cache", author="bob", minutes=-600))
    await adapter.inject(
        make_message("how do I reset the cache?", author="alice", chan=HELP, message_id="q1", minutes=-2)
    )
    await app.bus.drain()
    return app, adapter, llm, clock


async def timer_answer_under_way(make_app: Any, settings: Any) -> tuple[Any, Any, SlowLLM, asyncio.Task[None]]:
    """The timer's answer to q1 held in the slow model: (app, adapter, the model, the timer's run)."""
    app, adapter, llm, _ = await help_channel_app(make_app, settings)
    brain: QABrain = app.brain("qa")
    timer = asyncio.create_task(brain.answer_unanswered())
    await asyncio.wait_for(llm.started.wait(), 60)
    return app, adapter, llm, timer


def askers_ping() -> Any:
    """alice's "@bot can you help?" in her own question's thread (no help to q1: the timer waits on)."""
    return make_message(
        "<@U9> can you help with this?", author="alice", chan=HELP, thread_id="q1", mentions_bot=True, minutes=-1
    )


def answered_threads(adapter: Any) -> list[str | None]:
    return [a.thread_id for a in adapter.of_type(SendMessage)]


async def test_the_askers_mention_in_the_questions_thread_keeps_the_timer_off_the_question(
    make_app: Any, settings: Any
) -> None:
    """alice pings the bot in her own question's thread (her reply is no help: the timer still
    waits on q1); the timer run that comes while the mention's answer is generated must not answer
    q1 as well, in the same thread."""
    app, adapter, llm, clock = await help_channel_app(make_app, settings)
    ping = make_message(
        "<@U9> can you help with this?",
        author="alice",
        chan=HELP,
        thread_id="q1",
        message_id="q1-ping",
        mentions_bot=True,
        minutes=-1,
    )
    await adapter.inject(ping)
    drained = asyncio.create_task(app.bus.drain())
    await asyncio.wait_for(llm.started.wait(), 60)  # the mention's answer is being generated
    brain: QABrain = app.brain("qa")
    timer = asyncio.create_task(brain.answer_unanswered())
    await asyncio.sleep(0.05)
    llm.release.set()
    await asyncio.wait_for(asyncio.gather(drained, timer), 60)
    await app.bus.drain()
    assert answered_threads(adapter) == ["q1"]
    # The mention's answer is logged under the thread: later runs leave q1 alone too.
    await clock.advance(timedelta(minutes=1))
    await brain.answer_unanswered()
    await app.bus.drain()
    assert answered_threads(adapter) == ["q1"]


async def test_a_members_reply_while_the_timer_answer_is_generated_keeps_it_from_being_posted(
    make_app: Any, settings: Any
) -> None:
    """The timer saw no help, then the model took a while and bob answered meanwhile: the bot's
    answer must not land on top of his. It is logged as an abstention (nothing was posted), so no
    later run answers q1, even once bob's reply is gone."""
    app, adapter, llm, timer = await timer_answer_under_way(make_app, settings)
    helper = make_message("run make clean-cache", author="bob", chan=HELP, thread_id="q1", minutes=-1)
    await adapter.inject(helper)
    await app.bus.drain()
    llm.release.set()
    await asyncio.wait_for(timer, 60)
    await app.bus.drain()
    assert answered_threads(adapter) == []
    brain: QABrain = app.brain("qa")
    [logged] = await brain.answer_log.in_thread("console", "local", "q1")
    assert logged.abstained
    status = await brain.status("console", "local")
    assert status[0].startswith("Answers (last 7 days): 0 answered, 1 abstained")
    await adapter.inject(MessageDeleted(HELP, helper.message_id))
    await app.bus.drain()
    await app.ctx.clock.advance(timedelta(minutes=1))
    await brain.answer_unanswered()
    await app.bus.drain()
    assert answered_threads(adapter) == []


async def test_a_question_deleted_while_the_timer_answer_is_generated_gets_no_answer(
    make_app: Any, settings: Any
) -> None:
    """alice deleted q1 while the model worked on it: nothing is posted under a deleted question,
    and nothing is logged (a row would keep the words she deleted)."""
    app, adapter, llm, timer = await timer_answer_under_way(make_app, settings)
    await adapter.inject(MessageDeleted(HELP, "q1"))
    await app.bus.drain()
    llm.release.set()
    await asyncio.wait_for(timer, 60)
    await app.bus.drain()
    assert answered_threads(adapter) == []
    brain: QABrain = app.brain("qa")
    assert await brain.answer_log.in_thread("console", "local", "q1") == []


async def test_a_mention_answered_in_the_thread_while_the_timer_answer_is_generated_is_the_only_answer(
    make_app: Any, settings: Any
) -> None:
    """The other way round: the timer took q1 first, then alice pinged the bot in its thread and
    that answer was posted (and logged) before the timer's was generated: the timer posts nothing."""
    app, adapter, llm, timer = await timer_answer_under_way(make_app, settings)
    ping = askers_ping()
    await adapter.inject(ping)
    await app.bus.drain()  # the model holds only its first answer: the mention's goes through
    assert answered_threads(adapter) == ["q1"]
    llm.release.set()
    await asyncio.wait_for(timer, 60)
    await app.bus.drain()
    assert answered_threads(adapter) == ["q1"]


class TwoGatesLLM(ScriptedLLM):
    """The first answer (the timer's) waits for ``first``, every later one (a mention's) for ``later``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.calls = 0
        self.first_started, self.later_started = asyncio.Event(), asyncio.Event()
        self.first, self.later = asyncio.Event(), asyncio.Event()

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        self.calls += 1
        started, gate = (self.first_started, self.first) if self.calls == 1 else (self.later_started, self.later)
        started.set()
        await gate.wait()
        return await super().generate(messages, **kwargs)


async def test_a_timer_answer_ready_while_a_mention_in_the_thread_is_generated_is_not_posted(
    make_app: Any, settings: Any
) -> None:
    """Both under way, the timer's ready first: nothing is logged in the thread yet, so it looked
    like no one was answering; the mention then posted a second answer in q1's thread."""
    llm = TwoGatesLLM("Run make clean-cache to reset the cache [1].")
    app, adapter, _, _ = await help_channel_app(make_app, settings, llm)
    brain: QABrain = app.brain("qa")
    timer = asyncio.create_task(brain.answer_unanswered())
    await asyncio.wait_for(llm.first_started.wait(), 60)
    ping = askers_ping()
    await adapter.inject(ping)
    drained = asyncio.create_task(app.bus.drain())
    await asyncio.wait_for(llm.later_started.wait(), 60)
    llm.first.set()
    await asyncio.wait_for(timer, 60)
    llm.later.set()
    await asyncio.wait_for(drained, 60)
    assert answered_threads(adapter) == ["q1"]


async def test_two_mentions_in_one_thread_both_get_an_answer(make_app: Any) -> None:
    """A mention's answer once gave way to any answer logged in its thread while it was generated
    (meant for another worker's help-channel timer): dave's mention, answered first, silenced
    alice's. Each member who asks the bot gets an answer."""
    llm = SlowLLM("Run make clean-cache to reset the cache [1].")
    app, adapter = await make_app(brains=["qa"], llm=llm)
    general = channel("general")
    await adapter.inject(make_message("to reset the cache run make clean-cache", author="bob", minutes=-600))
    await adapter.inject(
        make_message("the build cache is broken again", author="carol", chan=general, message_id="root", minutes=-5)
    )
    await app.bus.drain()

    def ask(who: str, text: str, minutes: int) -> Any:
        return make_message(
            f"<@U9> {text}",
            author=who,
            chan=general,
            thread_id="root",
            message_id=f"m-{who}",
            mentions_bot=True,
            minutes=minutes,
        )

    await adapter.inject(ask("alice", "how do I reset the cache?", -2))
    drained = asyncio.create_task(app.bus.drain())
    await asyncio.wait_for(llm.started.wait(), 60)  # alice's answer is being generated
    await adapter.inject(ask("dave", "what clears the build cache?", -1))  # answered and logged first
    await asyncio.sleep(0.5)
    llm.release.set()
    await asyncio.wait_for(drained, 60)
    await app.bus.drain()
    assert sorted(str(a.reply_to) for a in adapter.of_type(SendMessage)) == ["m-alice", "m-dave"]
