"""Human-first wait: the asker's own thanks ("nevermind, got it working, thanks") settles the
question, in its thread or as a Discord inline reply to it; before, the bot answered it anyway.
"Thanks in advance" is no such thanks: the question still waits for an answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import MessagePosted, SendMessage
from bot.testing import ScriptedLLM, make_message
from bot.testing.builders import BASE_TIME
from brain.community.brain import HumanFirstDue
from tests.unit.community.test_community_brain import HELP, community_settings, echo_first_source, seed_history, sent
from tests.unit.community.test_community_brain import start as start_app

__all__ = ["community_settings"]  # the fixture, imported for pytest

QUESTION = make_message("how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="p1")


def in_thread(text: str) -> MessagePosted:
    return make_message(text, author="dan", chan=HELP, message_id="p2", thread_id="p1", minutes=2)


def inline(text: str) -> MessagePosted:
    return replace(make_message(text, author="dan", chan=HELP, message_id="p2", minutes=2), reply_to="p1")


async def sent_after(make_app: Any, settings: Settings, reply: MessagePosted) -> tuple[Any, list[SendMessage]]:
    """dan asks in #help and posts ``reply`` 2 minutes later; the app and what the bot sent in 30 minutes."""
    clock = FakeClock(BASE_TIME)
    app, adapter = await start_app(make_app, settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    for message in (QUESTION, reply):
        await adapter.inject(message)
        await app.bus.drain()
    await clock.advance(timedelta(minutes=30))
    await app.bus.drain()
    return app, sent(adapter)


@pytest.mark.parametrize("reply", [in_thread, inline], ids=["in-thread", "inline"])
async def test_the_askers_thanks_stops_the_pending_answer(
    make_app: Any, community_settings: Settings, reply: Any
) -> None:
    app, posted = await sent_after(make_app, community_settings, reply("nevermind, got it working, thanks"))
    assert posted == []
    # Another worker's timer for the same question (it holds its own) finds it settled too.
    await app.brain("community").on_due(HumanFirstDue(QUESTION))
    await app.bus.drain()
    assert sent(app.adapters[0]) == []


async def test_thanks_in_advance_leaves_the_question_waiting(make_app: Any, community_settings: Settings) -> None:
    _, posted = await sent_after(make_app, community_settings, in_thread("here is my pyproject. Thanks in advance!"))
    [answer] = posted
    assert answer.thread_id == "p1"
