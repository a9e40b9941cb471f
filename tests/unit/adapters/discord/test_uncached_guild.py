"""Interactions from a guild discord.py has not cached: still unavailable after READY, or an app added
with the applications.commands scope but not the bot's. discord.py stands in a guild without roles
(no @everyone), so who reads the channel is unknown: never public, and the member still gets an answer."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from adapters.discord.adapter import COMMAND_FAILED_NOTE
from bot.events import ButtonClicked, CommandInvoked, Visibility
from tests.unit.adapters.discord.fakes import BOT_ID, feed, interaction_payload, message_payload, next_id, user_payload
from tests.unit.adapters.discord.harness import Env, drain

FOLLOWUP = "/webhooks/{webhook_id}/{webhook_token}"
ORIGINAL = FOLLOWUP + "/messages/@original"


def from_uncached_guild(payload: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    """``payload`` moved to a guild and channel the gateway never sent (``(payload, guild, channel)``)."""
    guild, channel = next_id(), next_id()
    payload["guild_id"] = guild
    payload["channel_id"] = channel
    payload["channel"] = {
        "id": channel,
        "type": 0,
        "name": "general",
        "guild_id": guild,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
    }
    payload["guild"] = {"id": guild, "locale": "en-US", "features": []}
    payload["authorizing_integration_owners"] = {"0": guild}
    return payload, guild, channel


async def test_a_command_from_an_uncached_guild_is_answered_and_its_channel_never_public(env: Env) -> None:
    payload, guild, channel = from_uncached_guild(
        interaction_payload("ask", [{"name": "question", "type": 3, "value": "hi"}])
    )
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    [cmd] = env.seen.of(CommandInvoked)  # published, not lost after the defer
    assert (cmd.channel.workspace_id, cmd.channel.channel_id) == (guild, channel)
    assert cmd.channel.visibility is Visibility.PRIVATE and not cmd.channel.visibility_known
    [reply] = env.http.sent("POST", FOLLOWUP)
    assert reply.json["content"] == "answer to hi"  # no "thinking…" forever
    row = await env.app.store.get_channel("discord", guild, channel)
    assert row is None or row.visibility != "public"


async def test_a_command_from_a_channel_discord_py_cannot_model_is_never_public(env: Env) -> None:
    payload = interaction_payload("ask", [{"name": "question", "type": 3, "value": "hi"}], channel_id=next_id())
    payload["channel"]["type"] = 99  # a channel type newer than the pinned discord.py
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    [cmd] = env.seen.of(CommandInvoked)
    assert cmd.channel.visibility is Visibility.PRIVATE and not cmd.channel.visibility_known


async def test_a_click_from_an_uncached_guild_is_published(env: Env) -> None:
    bot_message = message_payload(next_id(), "Was this helpful?", author=user_payload(BOT_ID, "guildhall", bot=True))
    payload, guild, channel = from_uncached_guild(interaction_payload("unused"))
    payload.update(type=3, data={"custom_id": "qa.feedback:up:42", "component_type": 2}, message=bot_message)
    feed(env.client, "INTERACTION_CREATE", payload)
    await drain(env.app)
    [click] = env.seen.of(ButtonClicked)
    assert (click.channel.workspace_id, click.channel.channel_id) == (guild, channel)
    assert click.channel.visibility is Visibility.PRIVATE
    assert not click.channel.visibility_known


@pytest.mark.parametrize("name", ["ask", "help"], ids=["public defer", "private defer"])
async def test_a_command_that_cannot_be_handed_on_tells_the_member(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    def broken(*args: Any, **kwargs: Any) -> CommandInvoked:
        raise RuntimeError("unexpected payload")

    monkeypatch.setattr(env.adapter, "command_invoked", broken)
    with caplog.at_level(logging.ERROR):
        feed(
            env.client, "INTERACTION_CREATE", interaction_payload(name, [{"name": "question", "type": 3, "value": "x"}])
        )
        await drain(env.app)
    [note] = env.http.sent("PATCH", ORIGINAL)  # the "thinking…" message becomes the error
    assert note.json["content"] == COMMAND_FAILED_NOTE
    assert "unexpected payload" in caplog.text
    assert env.seen.of(CommandInvoked) == []
