"""``guildhall dlq list|replay`` on bad input: a dead Redis, a bad URL, a bad count or id is one
clear line and a non-zero exit, never a traceback (the real bus against a closed port)."""

from __future__ import annotations

import os
import socket

import pytest
from typer.testing import CliRunner

from bot.cli import app


def closed_port() -> int:
    """A local port nothing listens on (bound by the OS, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def redis_down(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"redis://:s3cret@127.0.0.1:{closed_port()}/0"
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_BUS__KIND", "redis")
    monkeypatch.setenv("GUILDHALL_BUS__REDIS_URL", url)
    return url


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


@pytest.mark.parametrize("args", [["list"], ["list", "--json"], ["replay", "all"], ["replay", "1700000000000-0"]])
def test_an_unreachable_redis_is_one_line(redis_down: str, args: list[str]) -> None:
    result = CliRunner().invoke(app, ["dlq", *args])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = _error_lines(result.output)
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach Redis at redis://:***@127.0.0.1:")
    assert "s3cret" not in result.output  # the password stays out of the message


def test_a_url_that_is_not_a_redis_url_is_one_line(redis_down: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUILDHALL_BUS__REDIS_URL", "notaurl")
    result = CliRunner().invoke(app, ["dlq", "list"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output  # as any config error
    # Settings reject it before the bus is built, so every command says the same.
    assert _error_lines(result.output) == [
        "configuration error:",
        "bus.redis_url: Value error, bus.redis_url must start with redis://, rediss:// or unix://",
    ]


def test_import_with_a_url_that_is_not_a_redis_url_is_a_configuration_error(
    redis_down: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUILDHALL_BUS__REDIS_URL", "notaurl")
    result = CliRunner().invoke(app, ["import", "discord-export", os.devnull, "--no-index"])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.output
    assert "bus.redis_url must start with redis://" in result.output


@pytest.mark.parametrize("count", ["0", "-5"])
def test_a_count_below_one_is_a_usage_error(redis_down: str, count: str) -> None:
    result = CliRunner().invoke(app, ["dlq", "list", "--count", count])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "--count" in result.output and "greater than or equal to 1" in result.output


def test_an_id_that_is_not_an_entry_id_is_a_usage_error(redis_down: str) -> None:
    result = CliRunner().invoke(app, ["dlq", "replay", "bogus-id"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "'bogus-id' is not a dead-letter entry id" in " ".join(result.output.split())
