"""``guildhall dlq`` against the real Redis on this machine: a command Redis refuses is one line."""

from __future__ import annotations

import os
import uuid

import pytest
from typer.testing import CliRunner

from bot.cli import app

pytestmark = pytest.mark.services


def test_an_id_redis_refuses_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_BUS__KIND", "redis")
    monkeypatch.setenv("GUILDHALL_BUS__REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("GUILDHALL_BUS__STREAM_PREFIX", f"ghtest-{uuid.uuid4().hex[:8]}")
    # Shaped like an entry id, but past what a stream id holds (64-bit milliseconds): only Redis knows.
    result = CliRunner().invoke(app, ["dlq", "replay", "99999999999999999999999-0"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        "error: Redis refused the command at redis://127.0.0.1:6379/15 "
        "(Invalid stream ID specified as stream command argument)"
    ]
