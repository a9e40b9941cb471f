"""A store that cannot be opened is one clear line and exit 2 from every command, never a page of
traceback (which also printed the database URL with its password)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.config import StoreSettings
from bot.store import StoreUnavailable, open_configured_store
from bot.url_secrets import without_password


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


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db"),
        ("sqlite:///var/lib/gh.db", "sqlite:///var/lib/gh.db"),
        ("postgresql://u@host/db", "postgresql://u@host/db"),
        # Unescaped "/", "#", "@" in a pasted secret: urlsplit finds no password, and the whole URL
        # was printed as it was.
        ("postgresql://bob:s3cr/et+X@db.example:5432/gh", "postgresql://bob:***@db.example:5432/gh"),
        ("postgresql://bob:pa#ss@db.example/gh", "postgresql://bob:***@db.example/gh"),
        ("postgresql://bob:p@ss@db.example/gh", "postgresql://bob:***@db.example/gh"),
        (
            "postgresql://bob@db.example/gh?sslmode=require&password=hunter2",
            "postgresql://bob@db.example/gh?sslmode=require&password=***",
        ),
        ("redis://:s3cret@redis.internal:6380/0", "redis://:***@redis.internal:6380/0"),
    ],
)
def test_urls_lose_only_their_password(url: str, shown: str) -> None:
    assert without_password(url) == shown


async def test_a_driver_error_quoting_part_of_the_password_is_not_printed() -> None:
    # asyncpg read "s3cr" as the port of "bob:s3cr/et+X@…" and said so in its error.
    url = f"postgresql://bob:s3cr/et+X@127.0.0.1:{_closed_port()}/gh"
    with pytest.raises(StoreUnavailable) as caught:
        await open_configured_store(StoreSettings(url=url, command_timeout_s=2))
    assert "s3cr" not in str(caught.value) and "et+X" not in str(caught.value)
    assert "percent-encoded" in str(caught.value)
