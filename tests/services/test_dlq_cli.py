"""``guildhall dlq`` against the real Redis on this machine: a command Redis refuses is one line, a
replay takes the entry out of the dead-letter stream, and `replay all` replays every entry once."""

from __future__ import annotations

import os
import uuid

import pytest
from redis import Redis
from typer.testing import CliRunner

from bot.cli import app
from bot.events import to_json
from bot.testing import make_message

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


@pytest.fixture
def dlq_env(monkeypatch: pytest.MonkeyPatch) -> tuple[Redis, str]:
    prefix = f"ghtest-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_BUS__KIND", "redis")
    monkeypatch.setenv("GUILDHALL_BUS__REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("GUILDHALL_BUS__STREAM_PREFIX", prefix)
    client = Redis.from_url("redis://127.0.0.1:6379/15")
    yield client, prefix
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def _dead_letter(client: Redis, prefix: str, entry_id: str, message_id: str) -> None:
    payload = to_json(make_message("x", message_id=message_id)).encode()
    client.xadd(f"{prefix}:dlq", {b"stream": f"{prefix}:ev:messages".encode(), b"json": payload}, id=entry_id)


def test_a_replay_names_one_entry_and_takes_it_out(dlq_env: tuple[Redis, str]) -> None:
    # An id of milliseconds alone matched every entry of that millisecond to XRANGE and none to
    # XDEL: each replay re-published the event and left it in the dead-letter stream.
    client, prefix = dlq_env
    _dead_letter(client, prefix, "1700000000000-1", "m1")
    _dead_letter(client, prefix, "1700000000000-2", "m2")
    refused = CliRunner().invoke(app, ["dlq", "replay", "1700000000000"])
    assert refused.exit_code == 2 and client.xlen(f"{prefix}:ev:messages") == 0
    done = CliRunner().invoke(app, ["dlq", "replay", "1700000000000-1"])
    assert done.exit_code == 0 and "replayed 1 event(s)" in done.output
    assert [i for i, _ in client.xrange(f"{prefix}:dlq")] == [b"1700000000000-2"]
    again = CliRunner().invoke(app, ["dlq", "replay", "1700000000000-1"])
    assert again.exit_code == 1 and "no dead letter 1700000000000-1" in again.output
    assert client.xlen(f"{prefix}:ev:messages") == 1


def test_replay_all_replays_every_entry_past_one_page_once(dlq_env: tuple[Redis, str]) -> None:
    client, prefix = dlq_env
    for n in range(1, 1203):  # more than a page of 1,000
        _dead_letter(client, prefix, f"1700000000000-{n}", f"m{n}")
    client.xadd(f"{prefix}:dlq", {b"error": b"nothing to replay"}, id="1700000000001-0")
    result = CliRunner().invoke(app, ["dlq", "replay", "all", "--json"])
    assert result.exit_code == 0, result.output
    assert '"left": 1' in result.output
    assert client.xlen(f"{prefix}:ev:messages") == 1202
    assert [i for i, _ in client.xrange(f"{prefix}:dlq")] == [b"1700000000001-0"]
