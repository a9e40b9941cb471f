"""Forwarded messages (``message_reference.type`` 1) through discord.py's real parser.

A forward copies a message into another channel: its own ``content`` is empty, the forwarded words
are in ``message_snapshots``, and its reference points at the original. It is not a reply.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter, gateway_intents
from bot.clock import FakeClock
from bot.config import Settings
from bot.events import MessagePosted
from bot.testing import ScriptedLLM
from bot.testing.builders import BASE_TIME
from tests.unit.adapters.discord.fakes import (
    BOB_ID,
    GENERAL_ID,
    GUILD_ID,
    PRIVATE_ID,
    feed,
    guild_create_payload,
    install,
    message_payload,
    user_payload,
)
from tests.unit.adapters.discord.harness import Env, Sleeps, drain

MESSAGES = "/channels/{channel_id}/messages"
QUESTION = "how do I pin a dependency with poetry?"


def forward_payload(original: dict[str, Any], channel_id: str, *, timestamp: str) -> dict[str, Any]:
    """Bob forwards ``original`` to ``channel_id``, as Discord's MESSAGE_CREATE carries a forward."""
    fwd = message_payload(channel_id, "", author=user_payload(BOB_ID, "bob"), timestamp=timestamp)
    fwd["message_reference"] = {
        "type": 1,  # FORWARD
        "message_id": original["id"],
        "channel_id": original["channel_id"],
        "guild_id": GUILD_ID,
    }
    snapshot = {
        "type": 0,
        "content": original["content"],
        "embeds": [],
        "attachments": [],
        "timestamp": original["timestamp"],
        "edited_timestamp": None,
        "flags": 0,
        "mentions": [],
        "mention_roles": [],
    }
    fwd["message_snapshots"] = [{"message": snapshot}]
    return fwd


def reply_payload(original: dict[str, Any], content: str) -> dict[str, Any]:
    """Bob's inline reply to ``original`` (reference type 0)."""
    reply = message_payload(original["channel_id"], content, author=user_payload(BOB_ID, "bob"), message_type=19)
    reply["message_reference"] = {
        "type": 0,
        "message_id": original["id"],
        "channel_id": original["channel_id"],
        "guild_id": GUILD_ID,
    }
    return reply


async def test_a_forward_is_no_reply_and_carries_the_forwarded_words(env: Env) -> None:
    question = message_payload(GENERAL_ID, QUESTION)
    forward = forward_payload(question, PRIVATE_ID, timestamp="2026-11-20T10:02:00.000000+00:00")
    reply = reply_payload(question, "use poetry add pkg==1.0")
    for payload in (question, forward, reply):
        feed(env.client, "MESSAGE_CREATE", payload)
    await drain(env.app)

    posted = {p.message_id: p for p in env.seen.of(MessagePosted)}
    fwd = posted[forward["id"]]
    assert fwd.channel.channel_id == PRIVATE_ID and fwd.author.user_id == BOB_ID
    assert fwd.reply_to is None
    assert fwd.text == QUESTION
    assert fwd.subtype == "forward"
    # The words are stored as the forward's, not as an empty message.
    row = await env.app.store.get_message("discord", GUILD_ID, forward["id"])
    assert row is not None and row.text == QUESTION and row.reply_to is None
    # An inline reply still is one.
    answer = posted[reply["id"]]
    assert answer.reply_to == question["id"] and answer.subtype == ""


async def test_forwarding_a_help_question_leaves_it_to_the_bot(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, discord_settings: Settings
) -> None:
    """Bob forwards Alice's help-channel question to #staff: nobody answered it, so the bot still does
    once the human-first wait is over (a forward taken for an inline reply settled the wait)."""
    settings = discord_settings.model_copy(
        update={
            "qa": discord_settings.qa.model_copy(update={"help_channel_ids": [GENERAL_ID]}),
            "community": discord_settings.community.model_copy(update={"human_first_minutes": 10.0}),
        }
    )
    clock = FakeClock(BASE_TIME)
    app, _ = await make_app(
        brains=["qa", "community"],
        llm=ScriptedLLM("Pin it with poetry add requests==2.31.0 [1]."),
        clock=clock,
        settings_override=settings,
    )
    client = discord.Client(intents=gateway_intents(), chunk_guilds_at_startup=False)
    async with client:
        http = install(client, monkeypatch)
        app.add_adapter(DiscordAdapter(settings, client=client, sleep=Sleeps()))
        feed(client, "GUILD_CREATE", guild_create_payload())
        await drain(app)
        history = message_payload(
            GENERAL_ID,
            "pin it with poetry add requests==2.31.0",
            author=user_payload(BOB_ID, "bob"),
            timestamp="2026-01-04T09:00:00.000000+00:00",
        )
        feed(client, "MESSAGE_CREATE", history)
        await drain(app)
        await (await app.brain("qa").indexer()).index_all()

        question = message_payload(GENERAL_ID, QUESTION, timestamp="2026-01-05T09:00:00.000000+00:00")
        feed(client, "MESSAGE_CREATE", question)
        await drain(app)
        forward = forward_payload(question, PRIVATE_ID, timestamp="2026-01-05T09:02:00.000000+00:00")
        feed(client, "MESSAGE_CREATE", forward)
        await drain(app)
        await clock.advance(timedelta(minutes=30))
        await drain(app)

        answers = [c for c in http.sent("POST", MESSAGES) if "poetry add requests" in c.json.get("content", "")]
        assert len(answers) == 1
        assert f"/channels/{GENERAL_ID}/" in answers[0].url
