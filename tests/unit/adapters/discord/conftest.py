"""Fixtures for the Discord adapter tests: an app with a real discord.py client whose gateway input
comes from recorded payloads and whose HTTP output is recorded (see ``fakes.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from pydantic import SecretStr

from adapters.discord.adapter import DiscordAdapter, gateway_intents
from bot.config import Settings
from bot.events import InboundEvent
from tests.unit.adapters.discord.fakes import feed, guild_create_payload, install
from tests.unit.adapters.discord.harness import EchoBrain, Env, Seen, Sleeps, drain


@pytest.fixture
def discord_settings(settings: Settings) -> Settings:
    """The app settings plus a Discord token."""
    return settings.model_copy(
        update={"discord": settings.discord.model_copy(update={"token": SecretStr("test-token")})}
    )


@pytest.fixture
async def env(make_app: Any, monkeypatch: pytest.MonkeyPatch, discord_settings: Settings) -> AsyncIterator[Env]:
    app, _ = await make_app(extra_brains=[EchoBrain])
    client = discord.Client(intents=gateway_intents(), chunk_guilds_at_startup=False)
    async with client:
        http = install(client, monkeypatch)
        sleeps = Sleeps()
        adapter = DiscordAdapter(discord_settings, client=client, sleep=sleeps)
        app.add_adapter(adapter)
        seen = Seen()
        app.bus.subscribe(InboundEvent, seen, name="test.seen")
        feed(client, "GUILD_CREATE", guild_create_payload())
        await drain(app)
        yield Env(app, client, http, adapter, seen, sleeps)
