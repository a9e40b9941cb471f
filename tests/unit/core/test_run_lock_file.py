"""``guildhall run`` whose lock file cannot be opened (a folder named ``guildhall.lock`` in data_dir)
says so in one line and exits 2; it ended in an ``IsADirectoryError`` traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.run_cli import LOCK_FILE


def test_run_says_when_its_lock_file_cannot_be_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / LOCK_FILE).mkdir()
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GUILDHALL_BRAINS", "[]")
    result = CliRunner().invoke(cli_app, ["run", "--no-demo"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert (
        f"cannot start: cannot open {str(tmp_path / LOCK_FILE)!r}, the lock that keeps a second guildhall off "
        "this data_dir: Is a directory"
    ) in " ".join(result.output.split())
