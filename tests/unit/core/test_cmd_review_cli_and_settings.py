"""`guildhall privacy forget` is audited as the operator's act; a list setting's error names the variable."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import ConfigError, load_settings
from bot.store import MessageRow, UserRow, open_store


async def _seed(url: str) -> None:
    store = await open_store(url)
    await store.upsert_messages([MessageRow("console", "local", "m1", "general", "ana", 1.0, "ana's words")])
    await store.upsert_users([UserRow("console", "local", "ana", "Ana Lima")])
    await store.close()


def test_cli_forget_is_audited_as_the_operators_act(db_env: str) -> None:
    asyncio.run(_seed(db_env))
    runner = CliRunner()
    assert runner.invoke(app, ["privacy", "forget", "--user", "ana", "--yes"]).exit_code == 0
    entries = json.loads(runner.invoke(app, ["audit", "--json"]).output)
    [entry] = [e for e in entries if e["actor_id"] == "cli"]
    assert entry["action"] == "privacy-forget" and entry["detail"]["user"] == "ana"
    assert any(e["actor_id"] == "ana" and e["action"] == "forget-me" for e in entries)


def test_comma_separated_admin_role_ids_are_blamed_on_their_variable(tmp_path: Path) -> None:
    env = {"GUILDHALL_DATA_DIR": str(tmp_path), "GUILDHALL_DISCORD__ADMIN_ROLE_IDS": "123,456"}
    with pytest.raises(ConfigError) as err:
        load_settings(None, environ=env)
    message = str(err.value)
    assert message.startswith("GUILDHALL_DISCORD__ADMIN_ROLE_IDS: not a JSON list") and '["123", "456"]' in message
    assert "123,456" not in message  # the value is not quoted back


def test_snowflakes_written_as_numbers_are_taken(tmp_path: Path) -> None:
    toml = tmp_path / "g.toml"
    toml.write_text("[discord]\nadmin_role_ids = [123456789012345678]\n")
    settings = load_settings(toml, environ={"GUILDHALL_DATA_DIR": str(tmp_path)})
    assert settings.discord.admin_role_ids == ["123456789012345678"]
