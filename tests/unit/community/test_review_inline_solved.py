"""Discord questions answered with inline replies (``reply_to``, no thread) can be marked solved
(review, round 3).

Human-first saw inline replies, but no solved path did: the asker's ✅ on an inline answer, the
asker's inline "thanks, that worked!" and "Mark solved" on the bot's inline answer all left the
question unsolved, and the last sent MarkThreadSolved for a "thread" whose id is a plain message.
With no thread to tag, the bot marks the question itself with ✅ in its channel.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import AddReaction, ButtonClicked, MarkThreadSolved, MessagePosted, Platform, ReactionAdded, UserRef
from bot.testing import ScriptedLLM, channel, make_message, user
from bot.testing.builders import BASE_TIME
from brain.community.brain import SOLVED_ACTION
from tests.unit.community.test_community_brain import community_settings, post, start

__all__ = ["community_settings"]  # the fixture, imported for pytest

HELP = channel("100", platform=Platform.DISCORD, workspace="G1")


def member(name: str, *, bot: bool = False) -> UserRef:
    return user(name, platform=Platform.DISCORD, workspace="G1", bot=bot)


def inline(text: str, author: UserRef, message_id: str, reply_to: str, minutes: float) -> MessagePosted:
    """A Discord inline reply in #100: no thread, ``reply_to`` the message it answers."""
    message = make_message(text, author=author, chan=HELP, message_id=message_id, minutes=minutes)
    return dataclasses.replace(message, reply_to=reply_to)


async def solved(app: Any, question_id: str) -> str | None:
    row = await app.store.db.fetchone("SELECT solved_message_id FROM threads WHERE thread_id = ?", (question_id,))
    return row[0] if row else None


async def asked_and_answered_inline(make_app: Any, settings: Settings, answerer: UserRef) -> tuple[Any, Any]:
    """11 asks in #100; ``answerer`` answers with an inline reply (202) a minute later."""
    app, adapter = await start(make_app, settings, ScriptedLLM("NOT_FOUND"), FakeClock(BASE_TIME))
    question = make_message("why does my import fail?", author=member("11"), chan=HELP, message_id="201")
    await post(app, adapter, question, inline("add __init__.py to the package", answerer, "202", "201", 1))
    return app, adapter


def marks_the_question(adapter: Any) -> bool:
    """The bot showed the question solved: ✅ on it in its channel, and no thread was asked for."""
    ticks = [a for a in adapter.of_type(AddReaction) if a.message_id == "201" and a.channel.channel_id == "100"]
    return bool(ticks) and adapter.of_type(MarkThreadSolved) == []


async def test_the_askers_tick_on_an_inline_answer_marks_it_solved(make_app: Any, community_settings: Settings) -> None:
    app, adapter = await asked_and_answered_inline(make_app, community_settings, member("12"))
    await post(app, adapter, ReactionAdded(HELP, "202", member("11"), "✅", BASE_TIME))
    assert await solved(app, "201") == "202"
    assert marks_the_question(adapter)


async def test_someone_elses_tick_on_an_inline_answer_marks_nothing(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter = await asked_and_answered_inline(make_app, community_settings, member("12"))
    await post(app, adapter, ReactionAdded(HELP, "202", member("13"), "✅", BASE_TIME))
    assert await solved(app, "201") is None
    assert adapter.of_type(AddReaction) == []


async def test_the_askers_inline_thanks_marks_the_answer_it_thanks_solved(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter = await asked_and_answered_inline(make_app, community_settings, member("12"))
    # Another member's inline answer, down the chain, before the asker thanks the first one.
    await post(app, adapter, inline("or run it with python -m", member("13"), "203", "202", 2))
    await post(app, adapter, inline("thanks, that worked!", member("11"), "204", "202", 3))
    assert await solved(app, "201") == "202"
    assert marks_the_question(adapter)


async def test_mark_solved_on_the_bots_inline_answer(make_app: Any, community_settings: Settings) -> None:
    app, adapter = await asked_and_answered_inline(make_app, community_settings, member("99", bot=True))
    await post(app, adapter, ButtonClicked(SOLVED_ACTION, "201", member("11"), HELP, "202", "c1"))
    assert await solved(app, "201") == "202"
    assert marks_the_question(adapter)


async def test_a_tick_in_a_real_discord_thread_still_marks_the_thread(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter = await start(make_app, community_settings, ScriptedLLM("NOT_FOUND"), FakeClock(BASE_TIME))
    await post(
        app,
        adapter,
        make_message("why does my import fail?", author=member("11"), chan=HELP, message_id="301", thread_id="301"),
        make_message("add __init__.py", author=member("12"), chan=HELP, message_id="302", thread_id="301", minutes=1),
    )
    await post(app, adapter, ReactionAdded(HELP, "302", member("11"), "✅", BASE_TIME))
    [mark] = adapter.of_type(MarkThreadSolved)
    assert (mark.thread_id, mark.accepted_message_id) == ("301", "302")
