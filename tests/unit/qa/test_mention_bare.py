"""A mention, DM or ``/ask`` without a question gets told how to ask: no retrieval, no model call,
no "I couldn't find this in our history"."""

from __future__ import annotations

from typing import Any

import pytest

from bot.events import CommandReply, SendMessage, Visibility
from bot.testing import ScriptedLLM, channel, command, make_message
from brain.qa.mentions import asks_something, strip_mentions
from prompts import load_prompt


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("<@UBOT>", False),
        ("<@UBOT> 🤔🤔🤔", False),
        ("<@UBOT> ???", False),
        ("<@!123> <@456|bob> <@&789>", False),
        ("<@&789> <!here>", False),
        ("<@UBOT> ...!", False),
        ("<@UBOT> how do I restart the worker?", True),
        ("<@UBOT> почему падает сборка?", True),
        ("<@UBOT> 为什么构建失败", True),
        ("<@UBOT> https://example.org/ci/123", True),
    ],
)
def test_asks_something(text: str, asks: bool) -> None:
    assert asks_something(strip_mentions(text)) is asks


@pytest.mark.parametrize("text", ["<@UBOT>", "<@UBOT> 👋👋👋", "<@UBOT> ?!?", "<@UBOT> <@UCAROL>"])
async def test_a_bare_mention_is_told_how_to_ask(make_app: Any, text: str) -> None:
    llm = ScriptedLLM("should not be called")
    app, adapter = await make_app(brains=["qa"], llm=llm)
    q = make_message(text, mentions_bot=True)
    await adapter.inject(q)
    await app.bus.drain()
    [reply] = adapter.of_type(SendMessage)
    assert reply.text == load_prompt("qa_how_to_ask") and reply.reply_to == q.message_id
    assert llm.prompts == []
    assert await app.store.db.fetchall("SELECT 1 FROM qa_answers") == []


async def test_an_empty_dm_is_told_how_to_ask(make_app: Any) -> None:
    llm = ScriptedLLM("should not be called")
    app, adapter = await make_app(brains=["qa"], llm=llm)
    dm = channel("dm-alice", visibility=Visibility.DM)
    await adapter.inject(make_message("   ", chan=dm))
    await app.bus.drain()
    [reply] = adapter.of_type(SendMessage)
    assert reply.text == load_prompt("qa_how_to_ask") and llm.prompts == []


async def test_ask_with_only_punctuation_gets_the_usage(make_app: Any) -> None:
    llm = ScriptedLLM("should not be called")
    app, adapter = await make_app(brains=["qa"], llm=llm)
    for text in ("", "???", "<@UCAROL>"):
        await adapter.inject(command("ask", text))
    await app.bus.drain()
    assert [r.text for r in adapter.of_type(CommandReply)] == ["Usage: `/ask <question>`."] * 3
    assert llm.prompts == []


async def test_repeated_bare_mentions_are_rate_limited_like_questions(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"])
    for i in range(8):  # more than qa.ask_per_member_per_minute (5), within a minute
        await adapter.inject(make_message("<@UBOT>", mentions_bot=True, minutes=i / 100))
    await app.bus.drain()
    texts = [a.text for a in adapter.of_type(SendMessage)]
    assert texts.count(load_prompt("qa_how_to_ask")) == 5
    assert len(texts) == 8  # the others are told to wait
