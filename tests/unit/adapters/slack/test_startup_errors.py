"""Slack set-up mistakes are one line naming our settings and exit 2, never Bolt's traceback; and
Bolt's own reading of the environment does not override the mode our settings choose."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from typer.testing import CliRunner

from adapters.slack.adapter import SlackAdapter
from bot.bus import InProcessBus
from bot.cli import app as cli_app
from bot.config import Settings, load_settings
from bot.events import MessagePosted
from bot.store import Store
from tests.slack_fakes import FakeSlackAPI, envelope, message_event, settle_bolt

CLIENT_ID_ONLY = {"SLACK_CLIENT_ID": "123.456", "SLACK_SIGNING_SECRET": "x", "GUILDHALL_SLACK__MODE": "http"}


@pytest.fixture
def client_id_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reviewer's setup: a client id and a signing secret, no client secret, no bot token."""
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GUILDHALL_STORE__URL", "sqlite://:memory:")
    monkeypatch.setenv("GUILDHALL_BRAINS", "[]")
    monkeypatch.setenv("GUILDHALL_SLACK__HTTP_PORT", "0")
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_CLIENT_SECRET", "GUILDHALL_SLACK__BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in CLIENT_ID_ONLY.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("client_id_only")
def test_check_config_names_the_missing_client_secret() -> None:
    # It said "configuration OK: platforms=slack" and `guildhall run` then died in Bolt.
    result = CliRunner().invoke(cli_app, ["check-config"])
    assert result.exit_code == 2, result.output
    assert "SLACK_CLIENT_SECRET" in result.output and "configuration OK" not in result.output


@pytest.mark.usefixtures("client_id_only")
@pytest.mark.parametrize("role", ["all", "gateway"])
def test_run_names_the_missing_client_secret_in_one_line(role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: Bolt's ``BoltError: Either an env variable SLACK_BOT_TOKEN or token argument ... is
    required`` with a page of traceback, exit 1."""
    if role == "gateway":  # a gateway builds its adapters before it starts anything
        monkeypatch.setenv("GUILDHALL_BUS__KIND", "redis")
    result = CliRunner().invoke(cli_app, ["run", "--no-demo", "--role", role])
    assert result.exit_code == 2, result.output
    [line] = [x for x in result.output.splitlines() if x.startswith("cannot start:")]
    assert "slack.client_id (SLACK_CLIENT_ID) needs SLACK_CLIENT_SECRET" in line
    assert "BoltError" not in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.usefixtures("client_id_only")
def test_the_adapter_turns_bolts_refusal_into_our_settings_names() -> None:
    settings = load_settings()
    assert settings.slack.connection_problems() == [
        "slack.client_id (SLACK_CLIENT_ID) needs SLACK_CLIENT_SECRET for multi-workspace installs (OAuth); "
        "for a single workspace set SLACK_BOT_TOKEN instead"
    ]
    with pytest.raises(ValueError, match=r"^slack\.client_id \(SLACK_CLIENT_ID\) needs SLACK_CLIENT_SECRET") as err:
        SlackAdapter(settings)
    assert type(err.value.__cause__).__name__ == "BoltError"


async def test_a_bot_token_wins_over_client_credentials_bolt_finds_in_the_environment(
    fake: FakeSlackAPI, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET exported beside SLACK_BOT_TOKEN, Bolt built an
    OAuth flow of its own from the environment (installations in files, the bot token ignored), so
    no event of the workspace was ever authorized and the bot heard nothing."""
    monkeypatch.setenv("SLACK_CLIENT_ID", "111.222")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "s3cr3t-from-env")
    settings = Settings.model_validate({"brains": [], "slack": {"bot_token": "xoxb-test", "app_token": "xapp-1"}})
    adapter = SlackAdapter(settings, store=store, client_base_url=fake.url)
    assert not adapter.oauth_enabled and adapter.app.oauth_flow is None
    bus = InProcessBus()
    heard: list[MessagePosted] = []

    async def hear(event: MessagePosted) -> None:
        heard.append(event)

    bus.subscribe(MessagePosted, hear, name="test.heard")
    adapter.attach(bus)
    body = envelope(message_event("is anyone there?"), event_id="EvEnv")
    await adapter.app.async_dispatch(AsyncBoltRequest(mode="socket_mode", body=body))
    await settle_bolt()
    await bus.drain()
    assert [e.text for e in heard] == ["is anyone there?"]
    # Bolt saw nothing of them, and the process's environment is as it was.
    assert os.environ["SLACK_CLIENT_ID"] == "111.222" and os.environ["SLACK_CLIENT_SECRET"] == "s3cr3t-from-env"


@pytest.mark.parametrize("command", [["check-config"], ["run", "--no-demo"]])
def test_slack_secrets_without_a_bot_token_or_client_id_are_named_not_a_console_chat(
    command: list[str], client_id_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A misspelled SLACK_BOT_TOKEN: check-config said "configuration OK: platforms=console" and
    # `guildhall run` opened the terminal chat, with not a word about Slack.
    monkeypatch.delenv("SLACK_CLIENT_ID")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-test")
    monkeypatch.setenv("GUILDHALL_SLACK__MODE", "socket")
    result = CliRunner().invoke(cli_app, command, input="/quit\n")
    assert result.exit_code == 2, result.output
    assert (
        "SLACK_APP_TOKEN and SLACK_SIGNING_SECRET are set, but neither SLACK_BOT_TOKEN (one workspace) "
        "nor SLACK_CLIENT_ID (multi-workspace installs): Slack would not start" in result.output
    )
    assert "Traceback" not in result.output


def test_a_slack_leftover_beside_discord_is_a_warning_not_an_error(
    client_id_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Discord bot with an old SLACK_SIGNING_SECRET in its environment runs (Slack is simply not
    # started): check-config must not refuse what `guildhall run` accepts.
    monkeypatch.delenv("SLACK_CLIENT_ID")
    monkeypatch.setenv("DISCORD_TOKEN", "x" * 59)
    result = CliRunner().invoke(cli_app, ["check-config"])
    assert result.exit_code == 0, result.output
    assert "warning: SLACK_SIGNING_SECRET is set, but neither SLACK_BOT_TOKEN" in result.output
