"""Deprecated settings still load (an old config keeps working) and say once what to use instead."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import DEPRECATED_HELP_FORUM_IDS, load_settings


def _config_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.config" and r.levelno == logging.WARNING]


def test_help_forum_ids_in_the_file_loads_and_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text('[discord]\nhelp_forum_ids = ["1100"]\nadmin_role_ids = ["42"]\n[qa]\nhelp_channel_ids = ["help"]\n')
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        settings = load_settings(cfg, environ={})
    assert settings.discord.admin_role_ids == ["42"]  # the rest of the section is read as before
    assert settings.qa.help_channel_ids == ["help"]
    assert _config_warnings(caplog) == [DEPRECATED_HELP_FORUM_IDS]
    assert "discord.help_forum_ids" in DEPRECATED_HELP_FORUM_IDS and "qa.help_channel_ids" in DEPRECATED_HELP_FORUM_IDS


def test_help_forum_ids_from_the_environment_loads_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"GUILDHALL_CONFIG": str(tmp_path / "none.toml"), "GUILDHALL_DISCORD__HELP_FORUM_IDS": '["1100"]'}
    (tmp_path / "none.toml").write_text("")
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        load_settings(environ=env)
    assert _config_warnings(caplog) == [DEPRECATED_HELP_FORUM_IDS]


def test_a_config_without_it_does_not_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text('[discord]\nadmin_role_ids = ["42"]\n')
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        load_settings(cfg, environ={})
    assert _config_warnings(caplog) == []


def test_other_unknown_discord_keys_are_still_errors(tmp_path: Path) -> None:
    from bot.config import ConfigError

    cfg = tmp_path / "guildhall.toml"
    cfg.write_text('[discord]\nhelp_forum_idz = ["1100"]\n')
    with pytest.raises(ConfigError, match=r"discord\.help_forum_idz: Extra inputs are not permitted"):
        load_settings(cfg, environ={})


def test_check_config_json_lists_the_deprecation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripts reading ``check-config --json`` see the deprecation too, not only a log line."""
    import json

    from typer.testing import CliRunner

    from bot.cli import app

    cfg = tmp_path / "guildhall.toml"
    cfg.write_text('[discord]\nhelp_forum_ids = ["1100"]\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["check-config", "--config", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and DEPRECATED_HELP_FORUM_IDS in report["warnings"]
