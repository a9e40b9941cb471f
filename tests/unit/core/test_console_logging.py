"""On the console, the log goes to ``data_dir/guildhall.log`` and only warnings reach the screen.

INFO lines (a model loading) printed into the chat and onto the prompt:
``#general you> 2026-12-05 … INFO sentence_transformers…``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.config import Settings


@pytest.fixture
def saved_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:], root.level = saved


def test_console_logging_keeps_info_off_the_screen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], saved_logging: None
) -> None:
    from bot.cli_support import setup_logging

    settings = Settings(data_dir=str(tmp_path / "data"), store={"url": "sqlite://:memory:"})
    setup_logging("INFO", settings, console=True)
    log = logging.getLogger("guildhall.test")
    log.info("loading a model")
    log.warning("the index is empty, token xoxb-1234567890-abcdefghijkl")
    for handler in logging.getLogger().handlers:
        handler.flush()
    err = capsys.readouterr().err
    assert "loading a model" not in err
    assert "the index is empty" in err and "xoxb-1234567890" not in err
    written = (tmp_path / "data" / "guildhall.log").read_text(encoding="utf-8")
    assert "INFO guildhall.test: loading a model" in written
    assert "the index is empty, token [secret]" in written


def test_other_commands_log_to_stderr_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], saved_logging: None
) -> None:
    from bot.cli_support import setup_logging

    settings = Settings(data_dir=str(tmp_path), store={"url": "sqlite://:memory:"})
    setup_logging("INFO", settings)
    logging.getLogger("guildhall.test").info("chatter")
    assert "chatter" in capsys.readouterr().err
    assert not (tmp_path / "guildhall.log").exists()


@pytest.mark.parametrize(("args", "console"), [(["run"], True), (["run", "--role", "worker"], False)])
def test_guildhall_run_logs_to_a_file_on_the_console_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], console: bool
) -> None:
    import bot.run_cli as run_cli
    from bot.cli import app

    for name in ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "GUILDHALL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(run_cli, "setup_logging", lambda level, settings=None, **kw: calls.append(kw))
    monkeypatch.setattr(run_cli, "run", lambda main: None)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert calls == [{"console": console}]
