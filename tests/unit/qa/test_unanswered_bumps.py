"""Help-channel timer: only someone else's reply counts as help; the asker's own bump does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.events import MessagePosted, SendMessage
from bot.testing import ScriptedLLM, channel, make_message, user
from bot.testing.builders import BASE_TIME
from brain.qa.brain import QABrain

HELP = channel("help")


async def unanswered_after(make_app: Any, settings: Any, *thread: MessagePosted) -> list[str]:
    """Post alice's #help question q1 and ``thread`` (replies in it), let 35 minutes pass with a
    30-minute timer; the threads the bot answered."""
    clock = FakeClock(BASE_TIME)
    tuned = settings.model_copy(
        update={"qa": settings.qa.model_copy(update={"answer_unanswered_after_min": 30, "help_channel_ids": ["help"]})}
    )
    llm = ScriptedLLM("Run make clean-cache to reset the cache [1].")
    app, adapter = await make_app(brains=["qa"], llm=llm, clock=clock, settings_override=tuned)
    events = [
        make_message("to reset the cache run make clean-cache", author="bob", chan="general", minutes=-600),
        make_message("how do I reset the cache?", author="alice", chan=HELP, message_id="q1"),
        *thread,
    ]
    for event in events:
        await adapter.inject(event)
    await app.bus.drain()
    brain: QABrain = app.brain("qa")
    await clock.advance(timedelta(minutes=35))
    await brain.answer_unanswered()
    await app.bus.drain()
    return [str(a.thread_id) for a in adapter.of_type(SendMessage)]


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param("anyone? still stuck on this", id="bump"),
        pytest.param("more detail: it is the npm cache, on macOS", id="detail"),
    ],
)
async def test_the_askers_own_reply_leaves_the_question_to_the_timer(make_app: Any, settings: Any, reply: str) -> None:
    own = make_message(reply, author="alice", chan=HELP, thread_id="q1", minutes=10)
    assert await unanswered_after(make_app, settings, own) == ["q1"]


async def test_a_bots_reply_leaves_the_question_to_the_timer(make_app: Any, settings: Any) -> None:
    other_bot = make_message("Ticket #123 opened", author=user("ticketbot", bot=True), chan=HELP, thread_id="q1")
    assert await unanswered_after(make_app, settings, other_bot) == ["q1"]


async def test_another_members_reply_stops_the_timer(make_app: Any, settings: Any) -> None:
    bump = make_message("anyone?", author="alice", chan=HELP, thread_id="q1", minutes=5)
    helper = make_message("try make clean-cache", author="bob", chan=HELP, thread_id="q1", minutes=10)
    assert await unanswered_after(make_app, settings, bump, helper) == []


def inline_reply(text: str, author: str, minutes: float) -> MessagePosted:
    """A Discord reply to q1: in the channel, in no thread, with ``reply_to`` naming the question."""
    return replace(make_message(text, author=author, chan=HELP, minutes=minutes), reply_to="q1")


async def test_another_members_inline_reply_stops_the_timer(make_app: Any, settings: Any) -> None:
    helper = inline_reply("run make clean-cache, that resets it", "bob", minutes=5)
    assert await unanswered_after(make_app, settings, helper) == []


async def test_the_askers_own_inline_reply_leaves_the_question_to_the_timer(make_app: Any, settings: Any) -> None:
    bump = inline_reply("anyone? still stuck on this", "alice", minutes=5)
    assert await unanswered_after(make_app, settings, bump) == ["q1"]
