"""What the restart job must not take up: a question a human helped with down a chain of inline
replies, a question whose asker only bumped it politely (that still wants an answer), and a
backfilled or imported question nobody was waiting on."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import EventSource
from bot.testing import ScriptedLLM, make_message
from bot.testing.builders import BASE_TIME
from tests.unit.community.test_asker_thanks import in_thread, sent_after
from tests.unit.community.test_community_brain import HELP, community_settings, echo_first_source, seed_history, sent
from tests.unit.community.test_community_brain import start as start_app

__all__ = ["community_settings"]  # a fixture of the community tests, used here


async def _minutes(app: Any, clock: FakeClock, n: int) -> None:
    for _ in range(n):
        await clock.advance(timedelta(minutes=1))
        await app.bus.drain()


async def test_a_helper_answering_the_askers_inline_bump_keeps_the_bot_silent(
    make_app: Any, community_settings: Settings
) -> None:
    # The live timer was cancelled in memory, but the restart job (every minute) saw only direct
    # replies to the question and answered it after the human had.
    clock = FakeClock(BASE_TIME)
    app, adapter = await start_app(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    question = make_message("how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="p1")
    bump = make_message("anyone? still stuck", author="dan", chan=HELP, message_id="p2", minutes=2)
    answer = make_message("use poetry add foo@1.2, that pins it", author="eve", chan=HELP, message_id="p3", minutes=3)
    for message in (question, replace(bump, reply_to="p1"), replace(answer, reply_to="p2")):
        await adapter.inject(message)
        await app.bus.drain()
    await _minutes(app, clock, 30)
    assert sent(adapter) == []


@pytest.mark.parametrize(
    "text",
    ["Any ideas? Thanks!", "I'm on Windows 11 with poetry 1.8. Thanks!", "thanks for looking, still stuck though"],
)
async def test_a_polite_bump_still_gets_its_answer(make_app: Any, community_settings: Settings, text: str) -> None:
    # A thanked bump silenced the bot for good: only "got it working" and the like settle a question.
    _, posted = await sent_after(make_app, community_settings, in_thread(text))
    assert len(posted) == 1, posted


async def test_a_backfilled_question_is_not_taken_up(make_app: Any, community_settings: Settings) -> None:
    # The live path ignores history; the restart job inferred its questions from the stored
    # messages and answered a backfilled one within a minute.
    clock = FakeClock(BASE_TIME)
    app, adapter = await start_app(make_app, community_settings, ScriptedLLM(echo_first_source), clock)
    await seed_history(app, adapter)
    question = make_message(
        "how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="b1", minutes=-20
    )
    await adapter.inject(replace(question, source=EventSource.BACKFILL))
    await app.bus.drain()
    await _minutes(app, clock, 3)
    assert sent(adapter) == []
