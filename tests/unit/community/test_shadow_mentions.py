"""Shadow mode holds every answer in a shadow channel for a moderator: a mention is drafted (the QA
brain used to answer it publicly at once), ``/ask`` answers the asker alone, and a new thread gets
no unapproved "similar threads" hint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.config import Settings
from bot.events import CommandReply, ThreadCreated
from bot.testing import ScriptedLLM, command, make_message, user
from bot.testing.builders import BASE_TIME
from tests.unit.community.test_community_brain import (
    HELP,
    approve_button,
    community_settings,
    echo_first_source,
    mod_click,
    post,
    sent,
    shadow_mode_in_help,
    start,
)

__all__ = ["community_settings"]  # the fixture, imported for pytest


async def shadow_app(make_app: Any, settings: Settings) -> tuple[Any, Any, FakeClock]:
    clock = FakeClock(BASE_TIME)
    app, adapter = await start(make_app, settings, ScriptedLLM(echo_first_source), clock)
    await shadow_mode_in_help(app, adapter)
    return app, adapter, clock


async def test_a_mention_in_a_shadow_channel_is_drafted_once_and_posted_on_approval(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, clock = await shadow_app(make_app, community_settings)
    question = make_message(
        "@guildhall how do I pin a dependency with poetry?", author="dan", chan=HELP, message_id="m1", mentions_bot=True
    )
    await post(app, adapter, question)
    await clock.advance(timedelta(minutes=30))  # the wait, and the job taking up waiting questions
    await app.bus.drain()
    [draft] = sent(adapter)
    assert draft.channel.channel_id == "mods" and "poetry add" in draft.text
    await post(app, adapter, mod_click(approve_button(draft), "mod", "dm1", "c1"))
    posted = [m for m in sent(adapter) if m.channel.channel_id == "help"]
    assert [m.thread_id for m in posted] == ["m1"]


async def test_a_mention_in_a_shadow_channels_thread_is_drafted(make_app: Any, community_settings: Settings) -> None:
    app, adapter, _ = await shadow_app(make_app, community_settings)
    await post(
        app,
        adapter,
        make_message("my poetry lock file keeps changing", author="dan", chan=HELP, message_id="t1", thread_id="t1"),
        make_message(
            "@guildhall how do I pin a dependency with poetry?",
            author="dan",
            chan=HELP,
            message_id="t2",
            thread_id="t1",
            mentions_bot=True,
        ),
    )
    [draft] = sent(adapter)
    assert draft.channel.channel_id == "mods"


async def test_ask_in_a_shadow_channel_answers_the_asker_alone(make_app: Any, community_settings: Settings) -> None:
    app, adapter, _ = await shadow_app(make_app, community_settings)
    await post(app, adapter, command("ask", "how do I pin a dependency with poetry?", author="dan", chan=HELP))
    reply = adapter.of_type(CommandReply)[-1]
    assert reply.ephemeral and "poetry add" in reply.text
    await post(app, adapter, command("ask", "how do I pin a dependency with poetry?", author="dan", chan="general"))
    assert not adapter.of_type(CommandReply)[-1].ephemeral  # elsewhere the answer is for everyone


async def test_a_new_thread_in_a_shadow_channel_gets_no_similar_threads_hint(
    make_app: Any, community_settings: Settings
) -> None:
    app, adapter, _ = await shadow_app(make_app, community_settings)
    first = make_message(
        "how do I pin a dependency version with poetry?", author="dan", chan=HELP, message_id="f1", thread_id="f1"
    )
    await post(app, adapter, first, ThreadCreated(HELP, "f1", "pinning with poetry", user("dan"), BASE_TIME))
    assert sent(adapter) == []
