"""Follow-up questions sent as Discord replies to the bot's answer: addressed to the bot.

A reply's ping is no mention (``test_mentions``), so a question replying to an answer reached no
brain unless the community brain took it as its own follow-up: loaded, ``community.followups`` on,
and (under the default ``asker``) asked by the asker. Now the QA brain answers such a reply whenever
the community brain does not, condensed with the conversation, and once when it does; a thanks
replying to the answer still gets nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter, gateway_intents
from bot.config import Settings
from bot.events import InboundEvent
from bot.testing import ScriptedLLM
from prompts import load_prompt
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    BOB_ID,
    BOT_ID,
    GENERAL_ID,
    feed,
    guild_create_payload,
    install,
    message_payload,
    user_payload,
)
from tests.unit.adapters.discord.harness import Seen, Sleeps, drain
from tests.unit.adapters.discord.test_mentions import ANSWER, BOT, MESSAGES, QA, _asked_and_answered, reply_to

ALICE = user_payload(ALICE_ID, "alice")
BOB = user_payload(BOB_ID, "bob")
FOLLOW_UP = "and how do I start it on a different port?"

Opened = Callable[..., Any]


@pytest.fixture
def open_qa(make_app: Any, monkeypatch: pytest.MonkeyPatch, discord_settings: Settings) -> Opened:
    """``async with open_qa(brains, followups=...) as qa``: the brains behind a Discord client, with
    one message of history indexed."""

    @asynccontextmanager
    async def opened(brains: list[str], *, followups: str | None = None) -> AsyncIterator[QA]:
        settings = discord_settings
        if followups is not None:
            community = settings.community.model_copy(update={"followups": followups})
            settings = settings.model_copy(update={"community": community})
        llm = ScriptedLLM(ANSWER)
        app, _ = await make_app(brains=brains, llm=llm, settings_override=settings)
        client = discord.Client(intents=gateway_intents(), chunk_guilds_at_startup=False)
        async with client:
            http = install(client, monkeypatch)
            app.add_adapter(DiscordAdapter(settings, client=client, sleep=Sleeps()))
            seen = Seen()
            app.bus.subscribe(InboundEvent, seen, name="test.seen")
            feed(client, "GUILD_CREATE", guild_create_payload())
            feed(
                client,
                "MESSAGE_CREATE",
                message_payload(GENERAL_ID, "start the dev server with npm run dev", author=BOB),
            )
            await drain(app)
            await (await app.brain("qa").indexer()).index_all()
            yield QA(app, client, http, llm, seen)

    return opened


async def _reply(qa: QA, answer: dict[str, Any], text: str, author: dict[str, Any]) -> dict[str, Any]:
    payload = reply_to(answer, text, author=author)
    feed(qa.client, "MESSAGE_CREATE", payload)
    await drain(qa.app)
    return payload


def _condensed(qa: QA) -> bool:
    """Whether a question was condensed with the conversation (answered as a follow-up)."""
    condense = load_prompt("qa_condense_system")
    return any(prompt[0].content == condense for prompt in qa.llm.prompts)


CASES = [
    pytest.param(["qa"], None, ALICE, id="qa-only"),
    pytest.param(["qa", "community"], "off", ALICE, id="followups-off"),
    pytest.param(["qa", "community"], None, BOB, id="another-member"),
    pytest.param(["qa", "community"], None, ALICE, id="asker-default"),  # the community brain's follow-up
    pytest.param(["qa", "community"], "anyone", BOB, id="anyone"),  # the community brain's follow-up
]


@pytest.mark.parametrize(("brains", "followups", "author"), CASES)
async def test_a_question_replying_to_the_answer_is_answered_once_with_the_conversation(
    open_qa: Opened, brains: list[str], followups: str | None, author: dict[str, Any]
) -> None:
    async with open_qa(brains, followups=followups) as qa:
        answer = await _asked_and_answered(qa)
        follow_up = await _reply(qa, answer, FOLLOW_UP, author)
        [reply] = qa.http.sent("POST", MESSAGES)  # answered, once
        assert str(reply.json["message_reference"]["message_id"]) == follow_up["id"]
        assert _condensed(qa)


@pytest.mark.parametrize(("brains", "followups", "author"), CASES)
async def test_thanks_replying_to_the_answer_gets_nothing(
    open_qa: Opened, brains: list[str], followups: str | None, author: dict[str, Any]
) -> None:
    async with open_qa(brains, followups=followups) as qa:
        answer = await _asked_and_answered(qa)
        await _reply(qa, answer, "thanks, that worked!", author)
        assert [c.json["content"] for c in qa.http.sent("POST", MESSAGES)] == []
        assert qa.llm.prompts == []


async def test_a_reply_to_the_answer_of_a_follow_up_is_a_follow_up_too(open_qa: Opened) -> None:
    """The bot's second answer replies to the follow-up, and is logged under the first question:
    a question replying to it belongs to the same conversation."""
    async with open_qa(["qa"]) as qa:
        answer = await _asked_and_answered(qa)
        follow_up = await _reply(qa, answer, FOLLOW_UP, ALICE)
        [sent] = qa.http.sent("POST", MESSAGES)
        second = message_payload(GENERAL_ID, sent.json["content"], author=BOT, message_type=19)
        second["message_reference"] = {"type": 0, "message_id": follow_up["id"], "channel_id": GENERAL_ID}
        feed(qa.client, "MESSAGE_CREATE", second)
        await drain(qa.app)
        qa.http.calls.clear()
        qa.llm.prompts.clear()
        again = await _reply(qa, second, "and on windows, how?", BOB)
        [reply] = qa.http.sent("POST", MESSAGES)
        assert str(reply.json["message_reference"]["message_id"]) == again["id"]
        assert _condensed(qa)


@pytest.mark.parametrize("brains", [["qa"], ["qa", "community"]])
async def test_a_question_replying_to_a_member_or_to_a_bot_notice_is_not_addressed_to_the_bot(
    open_qa: Opened, brains: list[str]
) -> None:
    async with open_qa(brains) as qa:
        remark = message_payload(GENERAL_ID, "I am setting up the dev server today", author=BOB)
        notice = message_payload(GENERAL_ID, "Build failed on main", author=BOT)
        for payload in (remark, notice):
            feed(qa.client, "MESSAGE_CREATE", payload)
        await drain(qa.app)
        qa.http.calls.clear()
        await _reply(qa, remark, "which port does it use?", ALICE)
        await _reply(qa, notice, "why did it fail?", ALICE)
        assert qa.http.sent("POST", MESSAGES) == []
        assert qa.llm.prompts == []


async def test_a_reply_that_mentions_the_bot_is_answered_once(open_qa: Opened) -> None:
    async with open_qa(["qa", "community"]) as qa:
        answer = await _asked_and_answered(qa)
        await _reply(qa, answer, f"<@{BOT_ID}> and on a different port?", BOB)
        assert len(qa.http.sent("POST", MESSAGES)) == 1
