"""A Discord server that removed the bot while it was offline, through discord.py's real gateway
parser: Discord sends no GUILD_DELETE for it, the guild is just missing from the next READY. Once
ready (``on_ready``), the adapter publishes the guilds it is connected to, and the recorder marks the
stored guilds of its shards that are missing (scheduled jobs stop posting there)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import pytest

from adapters.discord.adapter import DiscordAdapter, gateway_intents, make_client
from bot.app import GuildhallApp
from bot.config import Settings
from bot.events import ChannelRef, ChannelSeen, InboundEvent, Platform, WorkspacesConnected
from bot.recorder import removed_workspaces
from tests.unit.adapters.discord.fakes import (
    ALL_INTENTS_ENABLED,
    APP_ID,
    BOT_ID,
    GENERAL_ID,
    GUILD_ID,
    VIEW_CHANNEL,
    feed,
    guild_create_payload,
    install,
    member_payload,
    message_payload,
    role_payload,
    text_channel_payload,
    user_payload,
)
from tests.unit.adapters.discord.harness import Seen, drain

G1 = GUILD_ID  # still has the bot; shard 1 of 2
G2 = "900000000000000005"  # kicks the bot while it is offline; shard 1 of 2
LOBBY_ID = "900000000000000050"
DM_CHANNEL_ID = "900000000000000060"
# The last GUILD_CREATE is followed by this much quiet before discord.py fires on_ready (2 s by
# default). Every GUILD_CREATE of a test is fed before the wait starts, so none depends on it.
READY_QUIET_S = 0.01


def guild_payload(guild_id: str, name: str, channel_id: str) -> dict[str, Any]:
    """A GUILD_CREATE of another guild: one public channel, the bot as its only member."""
    return {
        **guild_create_payload(),
        "id": guild_id,
        "name": name,
        "roles": [role_payload(guild_id, "@everyone", VIEW_CHANNEL | (1 << 11))],
        "channels": [{**text_channel_payload(channel_id, "lobby"), "guild_id": guild_id}],
        "threads": [],
        "members": [member_payload(BOT_ID, "guildhall", bot=True)],
        "member_count": 1,
    }


def ready_payload(guild_ids: list[str], *, shard: tuple[int, int] | None = None) -> dict[str, Any]:
    """READY (``discord.types.gateway.ReadyEvent``): every guild is listed unavailable, by id only;
    its GUILD_CREATE follows."""
    data: dict[str, Any] = {
        "v": 10,
        "user": user_payload(BOT_ID, "guildhall", bot=True),
        "guilds": [{"id": g, "unavailable": True} for g in guild_ids],
        "session_id": "session",
        "resume_gateway_url": "wss://gateway.example",
        "application": {"id": APP_ID, "flags": ALL_INTENTS_ENABLED},
    }
    if shard is not None:
        data["shard"] = list(shard)
    return data


async def connect(app: GuildhallApp, client: discord.Client, ready: dict[str, Any], *guilds: dict[str, Any]) -> None:
    """A new gateway session: READY, then the GUILD_CREATEs of the guilds Discord can serve, as
    ``DiscordWebSocket`` feeds them; returns once on_ready was dispatched and its event recorded."""
    readied = asyncio.ensure_future(client.wait_for("ready"))
    await asyncio.sleep(0)  # one loop turn: the waiter is listening
    feed(client, "READY", ready)
    for guild in guilds:
        feed(client, "GUILD_CREATE", guild)
    await readied
    await drain(app)


@dataclass
class Bot:
    app: GuildhallApp
    client: discord.Client
    seen: Seen


@pytest.fixture
async def bot(make_app: Any, monkeypatch: pytest.MonkeyPatch, discord_settings: Settings) -> AsyncIterator[Bot]:
    """An unsharded client (``make_client`` without discord.shard_count) whose store knows G1 and G2
    and a DM with the bot, from an earlier session."""
    app, _ = await make_app()
    client = discord.Client(intents=gateway_intents(), chunk_guilds_at_startup=False, guild_ready_timeout=READY_QUIET_S)
    async with client:
        install(client, monkeypatch)
        app.add_adapter(DiscordAdapter(discord_settings, client=client))
        seen = Seen()
        app.bus.subscribe(InboundEvent, seen, name="test.seen")
        feed(client, "GUILD_CREATE", guild_create_payload())
        feed(client, "GUILD_CREATE", guild_payload(G2, "Leaving Soon", LOBBY_ID))
        feed(client, "MESSAGE_CREATE", message_payload(GENERAL_ID, "hello all"))
        feed(client, "MESSAGE_CREATE", message_payload(DM_CHANNEL_ID, "a DM to the bot", guild_id=None))
        await drain(app)
        known = await app.store.db.fetchall("SELECT workspace_id FROM workspaces WHERE platform = 'discord'")
        assert {str(r[0]) for r in known} == {G1, G2, "@me"}
        yield Bot(app, client, seen)


async def removed(app: GuildhallApp) -> dict[str, float]:
    """Discord guild id -> removal time, as the scheduled jobs read it."""
    return {w: ts for (p, w), ts in (await removed_workspaces(app.store.db)).items() if p == "discord"}


async def test_a_server_missing_from_ready_is_marked_removed_once_and_cleared_when_it_invites_again(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.recorder")
    # Restart: G2 kicked the bot meanwhile, so READY lists G1 only.
    await connect(bot.app, bot.client, ready_payload([G1]), guild_create_payload())

    [event] = bot.seen.of(WorkspacesConnected)
    assert (event.platform, event.workspace_ids, event.shard_count, event.shard_ids) == (
        Platform.DISCORD,
        (G1,),
        1,
        (0,),
    )
    first = await removed(bot.app)
    assert set(first) == {G2}  # not G1, and never the DM pseudo-workspace "@me"
    # The mark is the brains' too: scheduled jobs skip the guild.
    assert ("discord", G2) in await bot.app.brain("core").ctx.removed_workspaces()

    # A reconnect that could not resume: READY and on_ready again; the first mark and log stay.
    await connect(bot.app, bot.client, ready_payload([G1]), guild_create_payload())
    assert len(bot.seen.of(WorkspacesConnected)) == 2
    assert await removed(bot.app) == first
    assert len([r for r in caplog.records if G2 in r.getMessage() and "removed" in r.getMessage()]) == 1

    # Invited again: GUILD_CREATE (on_guild_join) shows the bot back, and posts resume there.
    feed(bot.client, "GUILD_CREATE", guild_payload(G2, "Leaving Soon", LOBBY_ID))
    await drain(bot.app)
    assert await removed(bot.app) == {}


async def test_a_server_unavailable_at_ready_is_an_outage_not_a_kick(bot: Bot) -> None:
    # READY lists both; Discord cannot serve G2 (an outage): no GUILD_CREATE comes for it.
    await connect(bot.app, bot.client, ready_payload([G1, G2]), guild_create_payload())

    unavailable = bot.client.get_guild(int(G2))
    assert unavailable is not None and unavailable.unavailable  # discord.py keeps it, unavailable
    [event] = bot.seen.of(WorkspacesConnected)
    assert set(event.workspace_ids) == {G1, G2}
    assert await removed(bot.app) == {}


async def test_a_sharded_process_judges_only_the_guilds_of_its_own_shards(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, discord_settings: Settings
) -> None:
    here, gone = "900000000004194305", "900000000012582913"  # both shard 0 of 2
    elsewhere = G1  # shard 1 of 2: another process's
    assert [(int(g) >> 22) % 2 for g in (here, gone, elsewhere)] == [0, 0, 1]
    app, _ = await make_app()
    for guild_id in (here, gone, elsewhere):  # what earlier sessions stored
        await app.bus.publish(ChannelSeen(ChannelRef(Platform.DISCORD, guild_id, f"{guild_id}0", "general")))
    await app.bus.drain()

    cfg = discord_settings.discord.model_copy(update={"shard_count": 2, "shard_ids": [0]})
    client = make_client(discord_settings.model_copy(update={"discord": cfg}))
    assert isinstance(client, discord.AutoShardedClient)
    async with client:
        install(client, monkeypatch)
        # What AutoShardedClient.launch_shards sets before connecting the shards (not run here).
        client._connection.shard_ids = [0]
        client._connection.guild_ready_timeout = READY_QUIET_S
        app.add_adapter(DiscordAdapter(discord_settings, client=client))
        seen = Seen()
        app.bus.subscribe(WorkspacesConnected, seen, name="test.seen")
        await connect(app, client, ready_payload([here], shard=(0, 2)), guild_payload(here, "Here", LOBBY_ID))

    [event] = seen.of(WorkspacesConnected)
    assert (event.workspace_ids, event.shard_count, event.shard_ids) == ((here,), 2, (0,))
    assert set(await removed(app)) == {gone}
