"""Voice and stage channels have a text chat: their messages are recorded like a text channel's, so
who may read them must be followed too. discord.py's StageChannel is no VoiceChannel subclass."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from adapters.discord.adapter import gateway_intents
from adapters.discord.backfill import ChannelProgress, DiscordBackfill
from bot.events import ChannelSeen, Event, EventSource, MessagePosted, Visibility
from tests.unit.adapters.discord.fakes import (
    BOB_ID,
    GUILD_ID,
    VIEW_CHANNEL,
    feed,
    guild_create_payload,
    install,
    message_payload,
    next_id,
    role_payload,
    serve_guild,
    user_payload,
)
from tests.unit.adapters.discord.harness import Env, drain

VOICE, STAGE = 2, 13
HIDDEN = [{"id": GUILD_ID, "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)}]


def vocal_channel_payload(
    channel_id: str, name: str, channel_type: int, *, overwrites: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A ``discord.types.channel.VoiceChannel`` or ``StageChannel``."""
    return {
        "id": channel_id,
        "type": channel_type,
        "guild_id": GUILD_ID,
        "name": name,
        "position": 5,
        "permission_overwrites": overwrites or [],
        "nsfw": False,
        "parent_id": None,
        "bitrate": 64000,
        "user_limit": 0,
        "rtc_region": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "topic": None,
    }


async def _with_channel(env: Env, channel_type: int) -> str:
    """A public voice or stage channel in the guild (GUILD_CREATE: on_guild_available), with a message."""
    channel_id = next_id()
    guild = guild_create_payload()
    guild["channels"].append(vocal_channel_payload(channel_id, "office-hours", channel_type))
    feed(env.client, "GUILD_CREATE", guild)
    feed(env.client, "MESSAGE_CREATE", message_payload(channel_id, "the deploy key rotates on friday"))
    await drain(env.app)
    return channel_id


def _seen(env: Env, channel_id: str) -> list[Visibility]:
    return [e.channel.visibility for e in env.seen.of(ChannelSeen) if e.channel.channel_id == channel_id]


@pytest.mark.parametrize("channel_type", [VOICE, STAGE], ids=["voice", "stage"])
async def test_a_voice_or_stage_channel_made_private_is_private_in_the_store(env: Env, channel_type: int) -> None:
    channel_id = await _with_channel(env, channel_type)
    assert _seen(env, channel_id) == [Visibility.PUBLIC]  # seen when the guild became available
    feed(
        env.client, "CHANNEL_UPDATE", vocal_channel_payload(channel_id, "office-hours", channel_type, overwrites=HIDDEN)
    )
    await drain(env.app)
    assert _seen(env, channel_id) == [Visibility.PUBLIC, Visibility.PRIVATE]
    row = await env.app.store.get_channel("discord", GUILD_ID, channel_id)
    assert row is not None and row.visibility == "private"
    assert channel_id not in await env.app.store.readable_channel_ids("discord", GUILD_ID, next_id(), (GUILD_ID,))


async def test_a_stage_channel_is_read_again_when_a_roles_permissions_change(env: Env) -> None:
    channel_id = await _with_channel(env, STAGE)
    feed(env.client, "GUILD_ROLE_UPDATE", {"guild_id": GUILD_ID, "role": role_payload(GUILD_ID, "@everyone", 0)})
    await drain(env.app)
    assert _seen(env, channel_id)[-1] is Visibility.PRIVATE
    row = await env.app.store.get_channel("discord", GUILD_ID, channel_id)
    assert row is not None and row.visibility == "private"


async def test_a_stage_channel_created_later_is_seen(env: Env) -> None:
    channel_id = next_id()
    feed(env.client, "CHANNEL_CREATE", vocal_channel_payload(channel_id, "town-hall", STAGE, overwrites=HIDDEN))
    await drain(env.app)
    assert _seen(env, channel_id) == [Visibility.PRIVATE]


async def test_backfill_reads_the_text_chat_of_voice_and_stage_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    voice, stage = next_id(), next_id()
    bob = user_payload(BOB_ID, "bob")
    messages = [
        message_payload(voice, "screen share is at 3pm", author=bob),
        message_payload(stage, "slides: https://example.org/talk", author=bob),
    ]
    client = discord.Client(intents=gateway_intents(privileged=False))
    events: list[Event] = []
    progress: list[ChannelProgress] = []

    async def publish(event: Event) -> None:
        events.append(event)

    async with client:
        http = install(client, monkeypatch)
        serve_guild(http, messages)
        channels = guild_create_payload()["channels"] + [
            vocal_channel_payload(voice, "lounge", VOICE),
            vocal_channel_payload(stage, "town-hall", STAGE, overwrites=HIDDEN),
        ]
        http.respond("GET", "/guilds/{guild_id}/channels", lambda route, params: channels)
        await client.login("token")
        await DiscordBackfill(client, publish, progress=progress.append).run(int(GUILD_ID))

    seen = {e.channel.channel_id: e.channel.visibility for e in events if isinstance(e, ChannelSeen)}
    assert seen[voice] is Visibility.PUBLIC and seen[stage] is Visibility.PRIVATE
    posted = {e.channel.channel_id: e for e in events if isinstance(e, MessagePosted)}
    assert posted[voice].text == "screen share is at 3pm" and posted[voice].source is EventSource.BACKFILL
    assert posted[stage].channel.visibility is Visibility.PRIVATE
    assert {p.channel_id: p.messages for p in progress}[stage] == 1
