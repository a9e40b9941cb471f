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
from bot.testing import ScriptedLLM, channel, make_message
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
