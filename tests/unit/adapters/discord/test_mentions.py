"""Which messages address the bot: its mention in the text, or its own managed role; not a reply's ping.

Discord's reply pings the replied-to author by default: the author is then in the message's
``mentions`` without being named in its text. A reply to one of the bot's answers is tied to the
answer by ``reply_to`` instead, which the community brain follows: a follow-up question is answered,
condensed with the conversation; the asker's thanks gets no answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter, gateway_intents
from bot.app import GuildhallApp
from bot.config import Settings
from bot.events import InboundEvent, MessagePosted
from bot.testing import ScriptedLLM
from prompts import load_prompt
from tests.unit.adapters.discord.fakes import (
    ALICE_ID,
    BOB_ID,
    BOT_ID,
    GENERAL_ID,
    RecordingHTTP,
    feed,
    guild_create_payload,
    install,
    message_payload,
    next_id,
    role_payload,
    user_payload,
)
from tests.unit.adapters.discord.harness import Env, Seen, Sleeps, drain

MESSAGES = "/channels/{channel_id}/messages"
BOT = user_payload(BOT_ID, "guildhall", bot=True)
ANSWER = "Start the dev server with npm run dev [1]."


def reply_to(original: dict[str, Any], content: str, *, author: dict[str, Any], ping: bool = True) -> dict[str, Any]:
    """An inline reply (type 19) to ``original``, as MESSAGE_CREATE carries it: with the ping on
    (Discord's default) the replied-to author is in ``mentions``, though the text names nobody."""
    reply = message_payload(
        original["channel_id"],
        content,
        author=author,
        mentions=[original["author"]] if ping else [],
        message_type=19,
    )
    reply["message_reference"] = {"type": 0, "message_id": original["id"], "channel_id": original["channel_id"]}
    reply["referenced_message"] = {k: v for k, v in original.items() if k not in {"member", "guild_id"}}
    return reply


def posted(env_seen: Seen, payload: dict[str, Any]) -> MessagePosted:
    [event] = [e for e in env_seen.of(MessagePosted) if e.message_id == payload["id"]]
    return event


# ----------------------------------------------------------------------------- normalize facts


async def test_a_mention_in_the_text_addresses_the_bot(env: Env) -> None:
    message = message_payload(GENERAL_ID, f"<@{BOT_ID}> how do I pin a dependency?", mentions=[BOT])
    nickname = message_payload(GENERAL_ID, f"<@!{BOT_ID}> and with poetry?", mentions=[BOT])
    for payload in (message, nickname):
        feed(env.client, "MESSAGE_CREATE", payload)
    await drain(env.app)
    assert posted(env.seen, message).mentions_bot and posted(env.seen, nickname).mentions_bot


async def test_a_reply_ping_is_no_mention_of_the_bot(env: Env) -> None:
    answer = message_payload(GENERAL_ID, ANSWER, author=BOT)
    thanks = reply_to(answer, "thanks, that worked!", author=user_payload(ALICE_ID, "alice"))
    feed(env.client, "MESSAGE_CREATE", answer)
    feed(env.client, "MESSAGE_CREATE", thanks)
    await drain(env.app)
    event = posted(env.seen, thanks)
    assert not event.mentions_bot
    assert event.reply_to == answer["id"]  # still tied to the answer it replies to
    assert env.http.sent("POST", MESSAGES) == []  # the echo brain answers mentions only


async def test_a_reply_that_also_mentions_the_bot_addresses_it(env: Env) -> None:
    answer = message_payload(GENERAL_ID, ANSWER, author=BOT)
    again = reply_to(answer, f"<@{BOT_ID}> and on windows?", author=user_payload(ALICE_ID, "alice"))
    feed(env.client, "MESSAGE_CREATE", answer)
    feed(env.client, "MESSAGE_CREATE", again)
    await drain(env.app)
    assert posted(env.seen, again).mentions_bot


async def test_a_mention_of_the_bots_own_managed_role_addresses_the_bot(env: Env) -> None:
    """Discord's @-autocomplete lists the bot's integration role right under the bot, same name."""
    bot_role, other_role = next_id(), next_id()
    guild = guild_create_payload()
    guild["roles"] += [
        {**role_payload(bot_role, "guildhall", 0), "managed": True, "tags": {"bot_id": BOT_ID}},
        {**role_payload(other_role, "otherbot", 0), "managed": True, "tags": {"bot_id": next_id()}},
    ]
    feed(env.client, "GUILD_CREATE", guild)
    question = message_payload(GENERAL_ID, f"<@&{bot_role}> how do I pin a dependency?")
    question["mention_roles"] = [bot_role]
    elsewhere = message_payload(GENERAL_ID, f"<@&{other_role}> play some music")
    elsewhere["mention_roles"] = [other_role]
    for payload in (question, elsewhere):
        feed(env.client, "MESSAGE_CREATE", payload)
    await drain(env.app)
    assert posted(env.seen, question).mentions_bot
    assert not posted(env.seen, elsewhere).mentions_bot  # another bot's role
    [answer] = env.http.sent("POST", MESSAGES)
    assert answer.json["content"].startswith("echo: ")


# ---------------------------------------------------------------- replies to answers, end to end


@dataclass
class QA:
    app: GuildhallApp
    client: discord.Client
    http: RecordingHTTP
    llm: ScriptedLLM
    seen: Seen


@pytest.fixture
async def qa(make_app: Any, monkeypatch: pytest.MonkeyPatch, discord_settings: Settings) -> AsyncIterator[QA]:
    """The QA and community brains behind a Discord client, with one message of history indexed."""
    llm = ScriptedLLM(ANSWER)
    app, _ = await make_app(brains=["qa", "community"], llm=llm, settings_override=discord_settings)
    client = discord.Client(intents=gateway_intents(), chunk_guilds_at_startup=False)
    async with client:
        http = install(client, monkeypatch)
        app.add_adapter(DiscordAdapter(discord_settings, client=client, sleep=Sleeps()))
        seen = Seen()
        app.bus.subscribe(InboundEvent, seen, name="test.seen")
        feed(client, "GUILD_CREATE", guild_create_payload())
        history = message_payload(
            GENERAL_ID, "start the dev server with npm run dev", author=user_payload(BOB_ID, "bob")
        )
        feed(client, "MESSAGE_CREATE", history)
        await drain(app)
        await (await app.brain("qa").indexer()).index_all()
        yield QA(app, client, http, llm, seen)


async def _asked_and_answered(qa: QA) -> dict[str, Any]:
    """Alice asks the bot in #general; its inline answer comes back through the gateway, as Discord
    echoes the bot's own messages. Returns that answer's payload."""
    question = message_payload(GENERAL_ID, f"<@{BOT_ID}> how do I start the dev server?", mentions=[BOT])
    feed(qa.client, "MESSAGE_CREATE", question)
    await drain(qa.app)
    [sent] = qa.http.sent("POST", MESSAGES)
    assert str(sent.json["message_reference"]["message_id"]) == question["id"]  # an inline reply
    answer = message_payload(GENERAL_ID, sent.json["content"], author=BOT, message_type=19)
    answer["message_reference"] = {"type": 0, "message_id": question["id"], "channel_id": GENERAL_ID}
    feed(qa.client, "MESSAGE_CREATE", answer)
    await drain(qa.app)
    qa.http.calls.clear()
    qa.llm.prompts.clear()
    return answer


async def test_thanks_in_a_reply_to_the_bots_answer_gets_no_answer(qa: QA) -> None:
    answer = await _asked_and_answered(qa)
    thanks = reply_to(answer, "thanks, that worked!", author=user_payload(ALICE_ID, "alice"))
    feed(qa.client, "MESSAGE_CREATE", thanks)
    await drain(qa.app)
    assert [c.json["content"] for c in qa.http.sent("POST", MESSAGES)] == []  # no "I couldn't find this..."
    assert qa.llm.prompts == []
    assert not posted(qa.seen, thanks).mentions_bot


async def test_a_follow_up_question_in_a_reply_to_the_answer_is_answered_with_the_conversation(qa: QA) -> None:
    answer = await _asked_and_answered(qa)
    follow_up = reply_to(answer, "and how do I start it on a different port?", author=user_payload(ALICE_ID, "alice"))
    feed(qa.client, "MESSAGE_CREATE", follow_up)
    await drain(qa.app)
    [reply] = qa.http.sent("POST", MESSAGES)  # answered once
    assert str(reply.json["message_reference"]["message_id"]) == follow_up["id"]
    # Answered as a follow-up: the question was condensed with the answer it replies to.
    condense = load_prompt("qa_condense_system")
    assert any(prompt[0].content == condense for prompt in qa.llm.prompts)
