"""Human-first wait: a Discord inline reply (``reply_to`` the question, in no thread) by another
member is a human answer, as a reply in the question's thread is; the asker's own is not."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import SendMessage
from bot.testing import ScriptedLLM, channel, make_message, user
from bot.testing.builders import BASE_TIME

HELP = channel("help")


@pytest.fixture
def community_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "qa": settings.qa.model_copy(update={"help_channel_ids": ["help"]}),
            "community": settings.community.model_copy(update={"human_first_minutes": 10.0}),
        }
    )


async def answered_after_the_wait(make_app: Any, settings: Settings, replier: str) -> list[SendMessage]:
    """dan asks in #help, ``replier`` answers with an inline reply 5 minutes later; what the bot sent."""
    clock = FakeClock(BASE_TIME)
    llm = ScriptedLLM("Pin it with poetry add requests==2.31.0 [1].")
    app, adapter = await make_app(brains=["qa", "community"], llm=llm, clock=clock, settings_override=settings)
    history = make_message("pin it with poetry add requests==2.31.0", author="bob", chan="general", minutes=-600)
    question = make_message("how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="p1")
    reply = replace(make_message("poetry add requests==2.31.0", author=replier, chan=HELP, minutes=5), reply_to="p1")
    for event in (history, question):
        await adapter.inject(event)
        await app.bus.drain()
    await (await app.brain("qa").indexer()).index_all()
    await clock.advance(timedelta(minutes=5))
    await adapter.inject(reply)
    await app.bus.drain()
    await clock.advance(timedelta(minutes=30))
    await app.bus.drain()
    return list(adapter.of_type(SendMessage))


async def test_another_members_inline_reply_cancels_the_pending_answer(
    make_app: Any, community_settings: Settings
) -> None:
    assert await answered_after_the_wait(make_app, community_settings, "bob") == []


async def test_the_askers_own_inline_reply_leaves_the_question_waiting(
    make_app: Any, community_settings: Settings
) -> None:
    [answer] = await answered_after_the_wait(make_app, community_settings, "dan")
    assert answer.thread_id == "p1" and answer.citations


async def sent_after_inline_reply(make_app: Any, settings: Settings, replier: str, text: str) -> list[SendMessage]:
    """dan asks in #help, ``replier`` answers with an inline reply ``text`` (itself holding a '?')
    2 minutes later; what the bot sent in the 30 minutes after."""
    clock = FakeClock(BASE_TIME)
    llm = ScriptedLLM("Pin it with poetry add requests==2.31.0 [1].")
    app, adapter = await make_app(brains=["qa", "community"], llm=llm, clock=clock, settings_override=settings)
    history = make_message("pin it with poetry add requests==2.31.0", author="bob", chan="general", minutes=-600)
    question = make_message("how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="p1")
    reply = replace(make_message(text, author=replier, chan=HELP, message_id="r1", minutes=2), reply_to="p1")
    for event in (history, question):
        await adapter.inject(event)
        await app.bus.drain()
    await (await app.brain("qa").indexer()).index_all()
    await clock.advance(timedelta(minutes=2))
    await adapter.inject(reply)
    await app.bus.drain()
    await clock.advance(timedelta(minutes=30))
    await app.bus.drain()
    return list(adapter.of_type(SendMessage))


async def test_a_helpers_inline_reply_asking_back_is_no_question_of_its_own(
    make_app: Any, community_settings: Settings
) -> None:
    """bob's "have you tried …?" answers dan: it cancels dan's wait and starts no wait for itself."""
    text = "have you tried poetry add with the version pinned?"
    assert await sent_after_inline_reply(make_app, community_settings, "bob", text) == []


async def test_the_askers_inline_bump_leaves_one_answer_to_the_question(
    make_app: Any, community_settings: Settings
) -> None:
    """dan's inline "anyone? is there really no way?" bumps the question: the bot answers the
    question once, in its thread, and never the bump."""
    sent = await sent_after_inline_reply(make_app, community_settings, "dan", "anyone? is there really no way?")
    assert [(m.thread_id, m.reply_to) for m in sent] == [("p1", "p1")]


async def test_an_inline_follow_up_to_the_bots_inline_answer_is_answered_as_a_follow_up(
    make_app: Any, community_settings: Settings
) -> None:
    """On Discord the bot answers a question in a plain channel with an inline reply, and the asker
    follows up with an inline reply to that answer: a follow-up in the question's conversation,
    answered at once, not a new question left waiting."""
    clock = FakeClock(BASE_TIME)
    llm = ScriptedLLM("Pin it with poetry add requests==2.31.0 [1].")
    app, adapter = await make_app(
        brains=["qa", "community"], llm=llm, clock=clock, settings_override=community_settings
    )
    history = make_message("pin it with poetry add requests==2.31.0", author="bob", chan="general", minutes=-600)
    question = make_message("how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="p1")
    for event in (history, question):
        await adapter.inject(event)
        await app.bus.drain()
    await (await app.brain("qa").indexer()).index_all()
    await clock.advance(timedelta(minutes=11))
    await app.bus.drain()
    [answer] = adapter.of_type(SendMessage)
    # The platform echoes the bot's answer: an inline reply to the question.
    echo = make_message(answer.text, author=user("guildhall", bot=True), chan=HELP, message_id="b1", minutes=11)
    follow_up = make_message(
        "and how do I pin requests with poetry add?", author="dan", chan=HELP, message_id="f1", minutes=12
    )
    for event in (replace(echo, reply_to="p1"), replace(follow_up, reply_to="b1")):
        await adapter.inject(event)
        await app.bus.drain()
    assert [m.reply_to for m in adapter.of_type(SendMessage)] == ["p1", "f1"]
