"""What the slash commands let members pick and who sees their answers, read from the JSON the tree
syncs and the requests the adapter sends."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter, gateway_intents
from adapters.discord.cli import sync_commands
from adapters.discord.commands import PUBLIC_COMMANDS
from bot.config import Settings
from bot.events import CommandInvoked, CommandReply, InboundEvent
from tests.unit.adapters.discord.fakes import (
    BOB_ID,
    FORUM_ID,
    GENERAL_ID,
    GUILD_ID,
    MANAGE_GUILD,
    VIEW_CHANNEL,
    feed,
    guild_create_payload,
    install,
    interaction_payload,
    next_id,
    thread_payload,
)
from tests.unit.adapters.discord.harness import EchoBrain, Env, Seen, Sleeps, drain

GUILD_COMMANDS = "/applications/{application_id}/guilds/{guild_id}/commands"
CALLBACK = "/interactions/{webhook_id}/{webhook_token}/callback"
FOLLOWUP = "/webhooks/{webhook_id}/{webhook_token}"
README = Path(__file__).parents[4] / "adapters" / "discord" / "README.md"
TEXT, ANNOUNCEMENT, FORUM, MEDIA = 0, 5, 15, 16  # Discord's channel types


async def _synced(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    client = discord.Client(intents=gateway_intents(privileged=False))
    http = install(client, monkeypatch)
    await sync_commands(settings, int(GUILD_ID), client=client)
    [put] = http.sent("PUT", GUILD_COMMANDS)
    return {c["name"]: c for c in put.json}


def _option(command: dict[str, Any], name: str) -> dict[str, Any]:
    [option] = [o for o in command.get("options", []) if o["name"] == name]
    return option


async def test_leaderboard_offers_forums_and_alerts_channel_only_channels_that_take_posts(
    discord_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forum, the usual help channel, could not be picked for /leaderboard (the option said
    TextChannel); alerts are plain messages, which a forum cannot take, so that option keeps to text."""
    commands = await _synced(discord_settings, monkeypatch)
    board = _option(commands["leaderboard"], "channel")
    assert board["type"] == 7 and sorted(board["channel_types"]) == [TEXT, ANNOUNCEMENT, FORUM, MEDIA]
    alerts = _option(_option(commands["guildhall"], "alerts-channel"), "channel")
    assert alerts["type"] == 7 and sorted(alerts["channel_types"]) == [TEXT, ANNOUNCEMENT]


async def test_a_forum_picked_for_the_leaderboard_reaches_the_brain(env: Env) -> None:
    options = [{"name": "channel", "type": 7, "value": FORUM_ID}]
    payload = interaction_payload("leaderboard", options)
    payload["data"]["resolved"] = {
        "channels": {FORUM_ID: {"id": FORUM_ID, "type": 15, "name": "help", "permissions": "0"}}
    }
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    [cmd] = env.seen.of(CommandInvoked)
    assert cmd.name == "leaderboard" and cmd.options == (("channel", FORUM_ID),)


async def test_alerts_channel_run_in_a_forum_post_refuses_the_forum(env: Env) -> None:
    """The command from a forum post names the forum (a post is a thread of it), which takes no plain
    messages: set there, trend alerts would never appear."""
    post = next_id()
    guild = guild_create_payload()
    guild["threads"].append(thread_payload(post, FORUM_ID, "How do I deploy?", BOB_ID))
    feed(env.client, "GUILD_CREATE", guild)
    payload = interaction_payload(
        "alerts-channel", group="guildhall", user_id=BOB_ID, permissions=VIEW_CHANNEL | MANAGE_GUILD, channel_id=post
    )
    payload["channel"] = thread_payload(post, FORUM_ID, "How do I deploy?", BOB_ID)
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    [cmd] = env.seen.of(CommandInvoked)
    assert cmd.channel.channel_id == FORUM_ID and cmd.channel.is_forum and cmd.thread_id == post
    assert await env.app.store.get_workspace_setting("discord", GUILD_ID, "alerts_channel") is None
    [reply] = env.http.sent("POST", FOLLOWUP)
    assert "text channel" in reply.json["content"] and reply.flags == 64


@pytest.fixture
async def activity_env(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, discord_settings: Settings
) -> AsyncIterator[Env]:
    """The Discord adapter in front of the real activity brain."""
    app, _ = await make_app(brains=["activity"], extra_brains=[EchoBrain])
    client = discord.Client(intents=gateway_intents(), chunk_guilds_at_startup=False)
    async with client:
        http = install(client, monkeypatch)
        adapter = DiscordAdapter(discord_settings, client=client, sleep=Sleeps())
        app.add_adapter(adapter)
        seen = Seen()
        app.bus.subscribe(InboundEvent, seen, name="test.seen")
        feed(client, "GUILD_CREATE", guild_create_payload())
        await drain(app)
        yield Env(app, client, http, adapter, seen, Sleeps())


async def test_trends_are_deferred_privately_as_the_brain_answers_them(activity_env: Env) -> None:
    """The activity brain answers /trends to the asker alone; a public defer put a "thinking..."
    message in the channel and then turned it into "Only you can see the reply" for everyone."""
    replies: list[CommandReply] = []

    async def keep(reply: CommandReply) -> None:
        replies.append(reply)

    activity_env.app.bus.subscribe(CommandReply, keep, name="test.replies")
    feed(activity_env.client, "INTERACTION_CREATE", interaction_payload("trends", channel_id=GENERAL_ID))
    await drain(activity_env.app)
    [reply] = replies
    assert reply.ephemeral  # the brain's choice, which the defer must follow
    [defer] = activity_env.http.sent("POST", CALLBACK)
    assert defer.json["type"] == 5 and defer.flags == 64
    assert activity_env.http.sent("PATCH", FOLLOWUP + "/messages/@original") == []
    [followup] = activity_env.http.sent("POST", FOLLOWUP)
    assert followup.flags == 64


def test_the_readme_names_the_commands_that_answer_publicly() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    match = re.search(r"((?:`/[a-z-]+`(?:, | and )?)+) answer publicly", text)
    assert match is not None
    assert set(re.findall(r"`/([a-z-]+)`", match.group(1))) == PUBLIC_COMMANDS
