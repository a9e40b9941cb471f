"""``discord.application_id`` was documented but never read: discord.py learns the application from
the token at login, before any command sync. It is no longer documented; a config that still sets
it loads, and says once that it is ignored."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import DEPRECATED_APPLICATION_ID, Settings, load_settings

ROOT = Path(__file__).parents[3]
# Where settings are listed for operators: the demo docs (which the bot also answers from) and the
# adapters' READMEs.
SETTING_DOCS = [
    *sorted((ROOT / "bot" / "demo" / "docs").glob("*.md")),
    *sorted((ROOT / "adapters").glob("*/README.md")),
]
TABLE_ROW = re.compile(r"^\| `GUILDHALL_([A-Z0-9_]+)`", re.MULTILINE)


def _config_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.config" and r.levelno == logging.WARNING]


def test_application_id_still_loads_and_says_once_it_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "none.toml").write_text("")
    env = {"GUILDHALL_CONFIG": str(tmp_path / "none.toml"), "GUILDHALL_DISCORD__APPLICATION_ID": "1234567890"}
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        settings = load_settings(environ=env)
    assert _config_warnings(caplog) == [DEPRECATED_APPLICATION_ID]
    assert settings.discord.deprecation_warnings() == [DEPRECATED_APPLICATION_ID]
    assert "GUILDHALL_DISCORD__APPLICATION_ID" in DEPRECATED_APPLICATION_ID  # says what to remove


def test_check_config_json_lists_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text('[discord]\napplication_id = "1234567890"\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["check-config", "--config", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and DEPRECATED_APPLICATION_ID in report["warnings"]


def _field(path: list[str]) -> Any:
    model: Any = Settings
    info = None
    for part in path:
        info = model.model_fields[part]
        model = info.annotation
    return info


def test_no_settings_table_lists_a_deprecated_setting() -> None:
    """Before, the Discord setup doc listed GUILDHALL_DISCORD__APPLICATION_ID as the application id."""
    rows = {name for doc in SETTING_DOCS for name in TABLE_ROW.findall(doc.read_text(encoding="utf-8"))}
    assert "DISCORD__COMMAND_GUILD_IDS" in rows  # the tables were found
    deprecated = sorted(name for name in rows if _field(name.lower().split("__")).deprecated)
    assert not deprecated, f"settings tables list deprecated settings: {deprecated}"
