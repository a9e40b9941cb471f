"""The Discord adapter end to end with the real QA brain: discord.py parses recorded gateway payloads,
the QA brain answers from what it indexed, and discord.py's HTTP layer is recorded."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter, gateway_intents
from bot.app import GuildhallApp
from bot.config import Settings
from bot.ml import ChatMessage
from bot.testing import ScriptedLLM
from tests.unit.adapters.discord.fakes import (
    BOB_ID,
    BOT_ID,
    FORUM_ID,
    GENERAL_ID,
    PRIVATE_ID,
    RecordingHTTP,
    feed,
    guild_create_payload,
    install,
    interaction_payload,
    message_payload,
    next_id,
    thread_payload,
    user_payload,
)
from tests.unit.adapters.discord.harness import drain

MESSAGES = "/channels/{channel_id}/messages"
FOLLOWUP = "/webhooks/{webhook_id}/{webhook_token}"
SOURCE = re.compile(r'<source n="(\d+)" channel="([^"]*)">\n(.*?)\n</source>', re.S)
BOT = [user_payload(BOT_ID, "guildhall", bot=True)]


def echo_first_source(messages: Sequence[ChatMessage]) -> str:
    """A model that answers with the first line of source 1 (always grounded)."""
    found = SOURCE.findall(messages[-1].content)
    return f"{found[0][2].splitlines()[0]} [1]" if found else "NOT_FOUND"


@pytest.fixture
async def discord_qa(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> AsyncIterator[tuple[GuildhallApp, discord.Client, RecordingHTTP]]:
    app, _ = await make_app(brains=["qa"], llm=ScriptedLLM(echo_first_source))
    client = discord.Client(intents=gateway_intents(), chunk_guilds_at_startup=False)
    async with client:
        http = install(client, monkeypatch)
        app.add_adapter(DiscordAdapter(settings, client=client))
        feed(client, "GUILD_CREATE", guild_create_payload())
        bob = user_payload(BOB_ID, "bob")
        history = [
            (GENERAL_ID, "To fix ERR_CONNECTION_REFUSED start the dev server with npm run dev"),
            (PRIVATE_ID, "the ERR_CONNECTION_REFUSED staging password is hunter2"),
        ]
        for channel_id, text in history:
            feed(
                client,
                "MESSAGE_CREATE",
                message_payload(channel_id, text, author=bob, timestamp="2026-11-20T08:00:00+00:00"),
            )
        await drain(app)
        yield app, client, http


async def test_question_in_a_help_forum_post_is_answered_in_the_post_with_a_citation_embed(
    discord_qa: tuple[GuildhallApp, discord.Client, RecordingHTTP],
) -> None:
    app, client, http = discord_qa
    post_id = next_id()
    feed(
        client,
        "THREAD_CREATE",
        {**thread_payload(post_id, FORUM_ID, "Dev server", "900000000000000100"), "newly_created": True},
    )
    question = f"<@{BOT_ID}> how do I fix ERR_CONNECTION_REFUSED?"
    feed(client, "MESSAGE_CREATE", message_payload(post_id, question, message_id=post_id, mentions=BOT))
    await drain(app)
    [answer] = http.sent("POST", MESSAGES)
    assert answer.url.endswith(f"/channels/{post_id}/messages")  # inside the forum post
    assert "npm run dev" in answer.json["content"] and "hunter2" not in answer.json["content"]
    [embed] = answer.json["embeds"]
    assert embed["title"] == "Sources" and "[1]" in embed["description"]
    assert answer.json["allowed_mentions"] == {"parse": []}


async def test_ask_command_is_deferred_then_answered_from_public_history_only(
    discord_qa: tuple[GuildhallApp, discord.Client, RecordingHTTP],
) -> None:
    app, client, http = discord_qa
    question = [{"name": "question", "type": 3, "value": "what fixes ERR_CONNECTION_REFUSED?"}]
    feed(client, "INTERACTION_CREATE", interaction_payload("ask", question))
    await drain(app)
    assert [c.path for c in http.calls][:2] == ["/interactions/{webhook_id}/{webhook_token}/callback", FOLLOWUP]
    [followup] = http.sent("POST", FOLLOWUP)
    assert "npm run dev" in followup.json["content"] and "hunter2" not in str(followup.json)
