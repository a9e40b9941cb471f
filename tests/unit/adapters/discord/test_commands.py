"""Slash command registration (sync), admin restrictions, and sharding."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord import app_commands
from pydantic import SecretStr
from typer.testing import CliRunner

from adapters.discord.adapter import DiscordAdapter, gateway_intents, make_client
from adapters.discord.cli import sync_commands
from bot.app import BRAINS, load_brain_class
from bot.cli import app as cli_app
from bot.config import DiscordSettings, Settings
from bot.core_brain import CoreBrain
from bot.events import CommandInvoked, MessagePosted
from tests.unit.adapters.discord.fakes import (
    BOT_ID,
    GUILD_ID,
    MANAGE_GUILD,
    THREAD_ID,
    FakeResponse,
    feed,
    guild_create_payload,
    install,
    interaction_payload,
    message_payload,
    record_every_client,
    user_payload,
)
from tests.unit.adapters.discord.harness import EchoBrain, Env, Seen, drain

GUILD_COMMANDS = "/applications/{application_id}/guilds/{guild_id}/commands"
GLOBAL_COMMANDS = "/applications/{application_id}/commands"
EVERYONE = {"ask", "recommend", "leaderboard", "trends", "experts", "optout", "optin", "forget-me", "help"}
ADMIN = {"index", "config", "alerts-channel", "digest", "status"}


def opt(name: str, value: object, kind: int = 3) -> dict[str, object]:
    return {"name": name, "type": kind, "value": value}


@pytest.mark.parametrize(
    ("name", "group", "options", "expected_name", "expected_text", "expected_options"),
    [
        ("ask", None, [opt("question", "why?")], "ask", "why?", (("question", "why?"),)),
        ("recommend", None, [], "recommend", "", ()),
        ("recommend", None, [opt("daily", "off")], "recommend", "daily off", (("daily", "off"),)),
        ("recommend", None, [opt("tz", "Europe/Berlin")], "recommend", "tz Europe/Berlin", (("tz", "Europe/Berlin"),)),
        ("leaderboard", None, [opt("period", "month")], "leaderboard", "", (("period", "month"),)),
        ("experts", None, [opt("topic", "asyncio")], "experts", "asyncio", (("topic", "asyncio"),)),
        ("forget-me", None, [opt("confirm", True, 5)], "forget-me", "confirm", (("confirm", "yes"),)),
        ("forget-me", None, [], "forget-me", "", ()),
        ("index", "guildhall", [opt("scope", "all")], "guildhall index", "all", (("scope", "all"),)),
        (
            "config",
            "guildhall",
            [opt("action", "set"), opt("key", "retention_days"), opt("value", "30")],
            "guildhall config",
            "set retention_days 30",
            (("action", "set"), ("key", "retention_days"), ("value", "30")),
        ),
        (
            "digest",
            "guildhall",
            [opt("setting", "time"), opt("value", "08:30")],
            "guildhall digest",
            "time 08:30",
            (("setting", "time"), ("value", "08:30")),
        ),
        (
            "digest",
            "guildhall",
            [opt("setting", "send-now")],
            "guildhall digest",
            "send-now",
            (("setting", "send-now"),),
        ),
        ("status", "guildhall", [], "guildhall status", "", ()),
    ],
)
async def test_slash_commands_reach_brains_with_slack_style_text(
    env: Env,
    name: str,
    group: str | None,
    options: list[dict[str, object]],
    expected_name: str,
    expected_text: str,
    expected_options: tuple[tuple[str, str], ...],
) -> None:
    """Brains parse one argument syntax: the text a member would type after the command on Slack."""
    feed(env.client, "INTERACTION_CREATE", interaction_payload(name, options, group=group))
    await drain(env.app)
    [cmd] = env.seen.of(CommandInvoked)
    assert (cmd.name, cmd.text, cmd.options) == (expected_name, expected_text, expected_options)
    [defer] = env.http.sent("POST", "/interactions/{webhook_id}/{webhook_token}/callback")
    assert defer.json["type"] == 5  # deferred at once, whatever the brain does next


def test_admin_group_is_hidden_by_default_permissions(env: Env) -> None:
    group = env.adapter.tree.get_command("guildhall")
    assert isinstance(group, app_commands.Group)
    assert group.default_permissions is not None and group.default_permissions.value == MANAGE_GUILD
    assert {c.name for c in group.commands} == ADMIN
    for name in EVERYONE:
        command = env.adapter.tree.get_command(name)
        assert command is not None and command.default_permissions is None


def test_every_command_a_brain_registers_has_a_discord_command(env: Env) -> None:
    brains = [load_brain_class(name) for name in BRAINS] + [CoreBrain]
    registered = {
        spec.name
        for cls in brains
        for attr in dir(cls)
        if (spec := getattr(getattr(cls, attr, None), "__guildhall_command__", None)) is not None
    }
    group = env.adapter.tree.get_command("guildhall")
    assert isinstance(group, app_commands.Group)
    on_discord = {c.name for c in env.adapter.tree.get_commands() if c.name != "guildhall"}
    assert registered == on_discord | {f"guildhall {c.name}" for c in group.commands}


async def test_sync_commands_to_one_guild_sends_every_command(
    discord_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = discord.Client(intents=gateway_intents(privileged=False))
    http = install(client, monkeypatch)
    names = await sync_commands(discord_settings, int(GUILD_ID), client=client)
    [put] = http.sent("PUT", GUILD_COMMANDS)
    assert put.url.endswith(f"/guilds/{GUILD_ID}/commands")
    by_name = {c["name"]: c for c in put.json}
    assert set(by_name) == EVERYONE | {"guildhall"} and set(names) == set(by_name)
    admin = by_name["guildhall"]
    assert int(admin["default_member_permissions"]) == MANAGE_GUILD  # Discord hides it from members
    assert {o["name"] for o in admin["options"]} == ADMIN
    ask = by_name["ask"]
    assert ask["options"][0]["name"] == "question" and ask["options"][0]["required"]
    assert http.sent("PUT", GLOBAL_COMMANDS) == []


async def test_sync_commands_globally(discord_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    client = discord.Client(intents=gateway_intents(privileged=False))
    http = install(client, monkeypatch)
    await sync_commands(discord_settings, None, client=client)
    [put] = http.sent("PUT", GLOBAL_COMMANDS)
    assert {c["name"] for c in put.json} == EVERYONE | {"guildhall"}


def test_sync_commands_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    http = record_every_client(monkeypatch)
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    result = CliRunner().invoke(cli_app, ["discord", "sync-commands", "--guild", GUILD_ID])
    assert result.exit_code == 0, result.output
    assert f"synced 10 commands guild {GUILD_ID}" in result.stdout
    assert len(http.sent("PUT", GUILD_COMMANDS)) == 1


def test_sync_commands_cli_without_token_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    record_every_client(monkeypatch)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("GUILDHALL_DISCORD__TOKEN", raising=False)
    result = CliRunner().invoke(cli_app, ["discord", "sync-commands"])
    assert result.exit_code == 2 and "DISCORD_TOKEN" in result.output


async def test_command_guild_ids_get_the_commands_at_login(
    env: Env, discord_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "900000000000000009"
    cfg = discord_settings.discord.model_copy(update={"command_guild_ids": [GUILD_ID, other]})
    env.adapter.settings = discord_settings.model_copy(update={"discord": cfg})
    await env.adapter.login("token")
    puts = env.http.sent("PUT", GUILD_COMMANDS)
    assert [p.url.rsplit("/", 2)[-2] for p in puts] == [GUILD_ID, other]


def test_no_shard_settings_make_a_plain_client() -> None:
    client = make_client(Settings())
    assert type(client) is discord.Client
    assert client.intents.message_content and client.intents.guilds and not client.intents.presences
    assert client.allowed_mentions is not None and dict(client.allowed_mentions.to_dict()) == {"parse": []}


def test_shard_settings_make_an_auto_sharded_client() -> None:
    settings = Settings(discord=DiscordSettings(token=SecretStr("t"), shard_count=4, shard_ids=[2, 3]))
    client = make_client(settings)
    assert isinstance(client, discord.AutoShardedClient)
    assert client.shard_count == 4 and client.shard_ids == [2, 3]
    every = make_client(Settings(discord=DiscordSettings(shard_count=2)))
    assert isinstance(every, discord.AutoShardedClient) and every.shard_ids is None  # this process runs all


async def test_adapter_runs_on_an_auto_sharded_client(
    make_app: Any, discord_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = await make_app(extra_brains=[EchoBrain])
    cfg = discord_settings.discord.model_copy(update={"shard_count": 2, "shard_ids": [0]})
    settings = discord_settings.model_copy(update={"discord": cfg})
    client = make_client(settings)
    assert isinstance(client, discord.AutoShardedClient)
    async with client:
        http = install(client, monkeypatch)
        adapter = DiscordAdapter(settings, client=client)
        app.add_adapter(adapter)
        seen = Seen()
        app.bus.subscribe(MessagePosted, seen, name="test.seen")
        feed(client, "GUILD_CREATE", guild_create_payload())
        bot = [user_payload(BOT_ID, "guildhall", bot=True)]
        feed(client, "MESSAGE_CREATE", message_payload(THREAD_ID, f"<@{BOT_ID}> sharded?", mentions=bot))
        await drain(app)
    assert len(seen.events) == 1
    [reply] = http.sent("POST", "/channels/{channel_id}/messages")
    assert reply.url.endswith(f"/channels/{THREAD_ID}/messages")


async def test_command_sync_refused_by_a_guild_is_logged_and_login_goes_on(
    env: Env, discord_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = discord_settings.discord.model_copy(update={"command_guild_ids": [GUILD_ID]})
    env.adapter.settings = discord_settings.model_copy(update={"discord": cfg})
    missing_access = discord.Forbidden(FakeResponse(403, "Forbidden"), {"message": "Missing Access", "code": 50001})  # type: ignore[arg-type]
    env.http.fail_once("PUT", GUILD_COMMANDS, missing_access)
    await env.adapter.login("token")
    assert any("applications.commands" in r.getMessage() for r in caplog.records)
    assert env.http.sent("PUT", GUILD_COMMANDS) == []
