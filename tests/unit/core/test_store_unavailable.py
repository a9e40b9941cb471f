"""A store that cannot be opened is one clear line and exit 2 from every command, never a page of
traceback (which also printed the database URL with its password)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.store import safe_store_url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


@pytest.fixture
def unreachable_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"postgresql://guildhall:s3cret@127.0.0.1:{_closed_port()}/guildhall"
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GUILDHALL_STORE__URL", url)
    monkeypatch.setenv("GUILDHALL_BRAINS", "[]")
    return url


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--no-demo"],
        ["leaderboard"],
        ["privacy", "export", "--user", "ana"],
        ["audit"],
    ],
)
def test_an_unreachable_store_is_one_line_and_exit_2(unreachable_store: str, argv: list[str]) -> None:
    result = CliRunner().invoke(cli_app, argv)
    assert result.exit_code == 2, result.output
    assert "cannot open the store at postgresql://guildhall:***@127.0.0.1:" in result.output
    assert "s3cret" not in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_run_says_when_the_data_folder_cannot_be_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(blocker / "data"))
    result = CliRunner().invoke(cli_app, ["run", "--no-demo"])
    assert result.exit_code == 2, result.output
    assert f"cannot start: cannot create data_dir {blocker / 'data'}" in result.output


def test_urls_lose_only_their_password() -> None:
    assert safe_store_url("postgresql://u:p@[::1]:5432/db") == "postgresql://u:***@[::1]:5432/db"
    assert safe_store_url("sqlite:///var/lib/gh.db") == "sqlite:///var/lib/gh.db"
