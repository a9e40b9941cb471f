"""``guildhall import`` with the Redis bus and Redis unreachable: one line saying where the events
were kept, exit 1, never a traceback (the real bus against a closed port)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import bus_redis
from bot.cli import app
from tests.unit.importers.test_discord_export import ANA, export, msg


def closed_port() -> int:
    """A local port nothing listens on (bound by the OS, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path}/gh.db")
    monkeypatch.setenv("GUILDHALL_BRAINS", "[]")
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GUILDHALL_BUS__KIND", "redis")
    monkeypatch.setenv("GUILDHALL_BUS__REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    # Seconds, not the 30 s and 5 s a real run waits for Redis to come back.
    monkeypatch.setattr(bus_redis, "DRAIN_TIMEOUT_S", 0.3)
    monkeypatch.setattr(bus_redis, "CLOSE_FLUSH_S", 0.1)
    return tmp_path


def test_import_with_redis_unreachable_names_the_spill_file_and_exits_1(env: Path) -> None:
    path = env / "chat.json"
    path.write_text(json.dumps(export({"id": "C1", "name": "general"}, [msg("1", "00", ANA, "kept for later")])))
    result = CliRunner().invoke(app, ["import", "discord-export", str(path), "--no-index", "--quiet"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "imported 1 messages" in result.stdout  # the summary still comes
    spill = env / "data" / "redis-bus-guildhall.spill.jsonl"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: Redis at {os.environ['GUILDHALL_BUS__REDIS_URL']} is unreachable: 2 imported events were "
        f"written to {spill} and are sent on the next guildhall start that reaches Redis"
    ]
    assert "Traceback" not in result.output
    # Nothing lost: the channel and the message wait in the spill file.
    assert "kept for later" in spill.read_text() and len(spill.read_text().splitlines()) == 2
