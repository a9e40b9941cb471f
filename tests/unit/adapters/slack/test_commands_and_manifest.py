"""Admin facts caching, the manifest's agreement with the code, and adapter configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.adapter import BOT_SCOPES, RENAME_EVENTS, SlackAdapter
from adapters.slack.commands import SLASH_COMMANDS, AdminFactsCache
from adapters.slack.normalize import CHANNEL_GONE_EVENTS, COMMAND_ALIASES, EVENT_HANDLERS
from bot.app import BRAINS, load_brain_class
from bot.config import Settings
from bot.core_brain import CoreBrain
from bot.store import open_store
from tests.slack_fakes import TEAM_ID, FakeSlackAPI

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[4] / "adapters" / "slack" / "manifest.yaml").read_text())


def slack_settings(**slack: object) -> Settings:
    return Settings.model_validate({"brains": [], "slack": slack})


async def test_admin_facts_are_cached_and_fail_closed(fake: FakeSlackAPI) -> None:
    clock = [0.0]
    cache = AdminFactsCache(["SADMINS", "SMISSING"], ttl=60, now=lambda: clock[0])
    fake.usergroups["SADMINS"] = ["UALICE"]
    client = AsyncWebClient(token="x", base_url=fake.url)

    facts = await cache.facts(client, TEAM_ID, "UALICE")
    assert not facts.is_platform_admin and facts.role_ids == ("SADMINS",)
    calls = len(fake.calls)
    await cache.facts(client, TEAM_ID, "UALICE")
    assert len(fake.calls) == calls + 1  # only the group that failed (no_such_subteam) is asked again

    fake.usergroups["SADMINS"] = []
    clock[0] = 61.0
    assert (await cache.facts(client, TEAM_ID, "UALICE")).role_ids == ()  # expired: demotion seen

    assert (await cache.facts(client, TEAM_ID, "UADMIN")).is_platform_admin
    assert not (await cache.facts(client, TEAM_ID, "UNOBODY")).is_platform_admin  # user_not_found
    fake.fail("users.info", "ratelimited")
    assert not (await cache.facts(client, TEAM_ID, "UOTHER")).is_platform_admin


def test_manifest_scopes_events_and_commands_match_the_code() -> None:
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    commands = [c["command"] for c in MANIFEST["features"]["slash_commands"]]
    assert commands == list(SLASH_COMMANDS)
    events = {e.split(".")[0] for e in MANIFEST["settings"]["event_subscriptions"]["bot_events"]}
    assert events == {
        *EVENT_HANDLERS,
        *CHANNEL_GONE_EVENTS,
        "app_home_opened",
        "member_left_channel",
        "app_uninstalled",
        "tokens_revoked",
        *RENAME_EVENTS,
    }


def test_every_command_a_brain_registers_has_a_slack_slash_command() -> None:
    brains = [load_brain_class(name) for name in BRAINS] + [CoreBrain]
    registered = {
        spec.name.split()[0]
        for cls in brains
        for attr in dir(cls)
        if (spec := getattr(getattr(cls, attr, None), "__guildhall_command__", None)) is not None
    }
    slack_name = {command: alias for alias, command in COMMAND_ALIASES.items()}
    assert {f"/{slack_name.get(name, name)}" for name in registered} == set(SLASH_COMMANDS)
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


async def test_oauth_mode_needs_the_store_and_serves_install_pages(fake: FakeSlackAPI, tmp_path: Path) -> None:
    settings = slack_settings(client_id="111.222", client_secret="s3cr3t", signing_secret="x", mode="http", http_port=0)
    with pytest.raises(ValueError, match="store"):
        SlackAdapter(settings, client_base_url=fake.url)
    store = await open_store("sqlite://:memory:")
    try:
        adapter = SlackAdapter(settings, store=store, client_base_url=fake.url)
        assert adapter.oauth_enabled and adapter.installation_store is not None
        routes = {r.resource.canonical for r in adapter.web_app().router.routes() if r.resource is not None}
        assert {"/slack/events", "/slack/install", "/slack/oauth_redirect"} <= routes
        # no installation yet: the default client is used, and nothing crashes
        assert await adapter.client_for("TUNKNOWN") is adapter.client
    finally:
        await store.close()


async def test_start_refuses_incomplete_config(fake: FakeSlackAPI) -> None:
    socket = SlackAdapter(slack_settings(bot_token="xoxb"), client_base_url=fake.url)
    with pytest.raises(ValueError, match="SLACK_APP_TOKEN"):
        await socket.start()
    http = SlackAdapter(slack_settings(bot_token="xoxb", mode="http"), client_base_url=fake.url)
    with pytest.raises(ValueError, match="SIGNING_SECRET"):
        await http.start()


async def test_guildhall_run_builds_this_adapter_with_the_store(fake: FakeSlackAPI) -> None:
    from bot.run_cli import make_platform_adapter

    store = await open_store("sqlite://:memory:")

    class _App:
        pass

    app = _App()
    app.store = store  # type: ignore[attr-defined]
    try:
        adapter = make_platform_adapter("slack", slack_settings(bot_token="xoxb", api_base_url=fake.url), app)
        assert isinstance(adapter, SlackAdapter) and not adapter.oauth_enabled
    finally:
        await store.close()


def test_building_the_adapter_leaves_project_loggers_alone() -> None:
    import logging

    before = logging.getLogger("guildhall").level
    SlackAdapter(slack_settings(bot_token="xoxb"))
    assert logging.getLogger("guildhall").level == before
