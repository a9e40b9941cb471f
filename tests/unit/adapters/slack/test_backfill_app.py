"""``guildhall import slack`` takes the export importers' path: the app's privacy gate with the
forgotten members of the store, and (in-process bus) the recorder, every brain and the QA index.

Against the fake Web API, on a real store (SQLite, or PostgreSQL with ``GUILDHALL_TEST_STORE=postgresql``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from adapters.slack.cli import run_backfill
from bot.cli import app as cli_app
from bot.config import Settings
from bot.store import open_store
from tests.slack_fakes import TEAM_ID, FakeSlackAPI
from tests.store_backends import set_cli_env


def msg(ts: float, text: str, user: str = "UALICE", **extra: object) -> dict[str, object]:
    return {"type": "message", "user": user, "text": text, "ts": f"{ts:.6f}", **extra}


@pytest.fixture
def cli_env(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment of the ``guildhall`` commands run here (the same store); returns its URL."""
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(tmp_path))
    return set_cli_env(monkeypatch, store_url, tmp_path)


def backfill_settings(fake: FakeSlackAPI, url: str, tmp_path: Path, brains: list[str]) -> Settings:
    return Settings.model_validate(
        {
            "store": {"url": url},
            "brains": brains,
            "data_dir": str(tmp_path),
            "vectors": {"path": str(tmp_path / "chroma")},
            "llm": {"backend": "scripted", "warmup": False},
            "slack": {"bot_token": "xoxb-test", "api_base_url": fake.url},
        }
    )


async def guildhall(*args: str) -> Result:
    """Run a ``guildhall`` command in a thread: the fake Web API keeps serving on this loop."""
    return await asyncio.to_thread(CliRunner().invoke, cli_app, list(args))


async def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    store = await open_store(url)
    try:
        return [tuple(r) for r in await store.db.fetchall(sql)]
    finally:
        await store.close()


async def test_a_forgotten_member_stays_out_of_later_backfills(
    fake: FakeSlackAPI, cli_env: str, tmp_path: Path
) -> None:
    """``privacy forget`` (or /forget-me), then a backfill over the same and another channel: the
    member's old messages and reactions are not stored again, as ``import slack-export`` skips them."""
    plus_one = [{"name": "+1", "users": ["UALICE"], "count": 1}]
    fake.history["CGENERAL"] = [
        msg(1767600001, "alice asks about her invoice"),
        msg(1767600002, "bob answers", user="UBOB", reactions=plus_one),
    ]
    settings = backfill_settings(fake, cli_env, tmp_path, brains=[])
    await run_backfill(settings, channels=["CGENERAL"], all_channels=False)
    forgot = await guildhall("privacy", "forget", "--user", "UALICE", "--yes")
    assert forgot.exit_code == 0, forgot.output

    fake.history["CHELP"] = [msg(1767600005, "alice's older post in help"), msg(1767600006, "bob in help", user="UBOB")]
    await run_backfill(settings, channels=["CGENERAL", "CHELP"], all_channels=False)

    messages = await rows(cli_env, "SELECT author_id, text FROM messages")
    assert [text for author, text in messages if author == "UALICE" and text] == []
    assert sorted(text for author, text in messages if author == "UBOB") == ["bob answers", "bob in help"]
    assert await rows(cli_env, "SELECT user_id FROM reactions WHERE user_id = 'UALICE'") == []


async def test_backfilled_history_reaches_every_brain_and_the_index(
    fake: FakeSlackAPI, cli_env: str, tmp_path: Path, fake_models: None
) -> None:
    """On the in-process bus the backfill runs through the full app, as ``import slack-export``
    does: the leaderboard ranks the thread's members, and the thread is indexed for questions."""
    root = time.time() - 3600
    question = "how do I configure retries in the client library?"
    answer = "set max_retries=5 in the client config and restart the worker"
    fake.history["CHELP"] = [msg(root, question, thread_ts=f"{root:.6f}", reply_count=1)]
    fake.replies[("CHELP", f"{root:.6f}")] = [
        msg(root, question, thread_ts=f"{root:.6f}"),
        msg(root + 60, answer, user="UBOB", thread_ts=f"{root:.6f}"),
    ]
    settings = backfill_settings(fake, cli_env, tmp_path, brains=["qa", "activity"])
    await run_backfill(settings, channels=["CHELP"], all_channels=False)

    board = await guildhall("leaderboard", "--period", "all", "--platform", "slack", "--workspace", TEAM_ID, "--json")
    assert board.exit_code == 0, board.output
    assert [e["user_id"] for e in json.loads(board.stdout)["entries"]] == ["UBOB", "UALICE"]  # answer, then question
    found = await guildhall("search", "max_retries client config", "--json")
    assert found.exit_code == 0, found.output
    assert answer in found.stdout


async def test_cli_reports_the_store_and_the_index_and_keeps_its_options(
    fake: FakeSlackAPI, cli_env: str, tmp_path: Path, fake_models: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--json`` carries the backfill's report with the store's counts and the index rebuild, like the
    export importers; ``--no-index`` leaves the index alone; the running bot's metrics port, inherited
    through the environment, does not stop the import."""
    fake.history["CGENERAL"] = [msg(1767600001, "first"), msg(1767600002, "second", user="UBOB")]
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("GUILDHALL_SLACK__API_BASE_URL", fake.url)
    monkeypatch.setenv("GUILDHALL_BRAINS", '["qa"]')
    with socket.socket() as bot_metrics:  # the bot's /metrics, already listening
        bot_metrics.bind(("127.0.0.1", 0))
        bot_metrics.listen()
        monkeypatch.setenv("GUILDHALL_METRICS_PORT", str(bot_metrics.getsockname()[1]))
        indexed = await guildhall("import", "slack", "--channel", "CGENERAL", "--json")
    assert indexed.exit_code == 0, indexed.output
    data = json.loads(indexed.stdout)
    assert data["messages"] == 2 and data["failed_channels"] == []
    assert data["store"]["messages"] == 2 and data["index"]["units_upserted"] >= 1

    plain = await guildhall("import", "slack", "--channel", "CGENERAL", "--no-index")
    assert plain.exit_code == 0, plain.output
    assert plain.stdout.strip() == "imported 2 messages from 1 channels"


REDIS = "redis://127.0.0.1:6379/15"


async def test_behind_redis_the_backfill_publishes_for_the_workers_without_forgotten_members(
    fake: FakeSlackAPI, cli_env: str, tmp_path: Path
) -> None:
    """With a Redis bus the running workers store and learn; the backfill publishes, through the
    same privacy gate: a forgotten member's messages never reach the streams."""
    from redis import asyncio as aioredis

    fake.history["CGENERAL"] = [msg(1767600001, "alice's old message"), msg(1767600002, "bob's", user="UBOB")]
    store = await open_store(cli_env)
    try:
        await store.set_member_setting("slack", TEAM_ID, "UALICE", "forgotten", True)
    finally:
        await store.close()
    prefix = f"ghtest-{uuid.uuid4().hex[:8]}"
    settings = backfill_settings(fake, cli_env, tmp_path, brains=["activity"]).model_copy(
        update={"bus": Settings().bus.model_copy(update={"kind": "redis", "redis_url": REDIS, "stream_prefix": prefix})}
    )
    redis = aioredis.from_url(REDIS)
    try:
        done = await run_backfill(settings, channels=["CGENERAL"], all_channels=False)
        published = " ".join(
            [
                value.decode()
                for key in [k async for k in redis.scan_iter(f"{prefix}:*")]
                if await redis.type(key) == b"stream"
                for _, fields in await redis.xrange(key)
                for value in fields.values()
            ]
        )
    finally:
        keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
    assert "bob's" in published and "alice's" not in published and "UALICE" not in published
    # The workers record; this process neither stores nor counts (its brains are not subscribed).
    assert done.error == "" and "store" not in done.extra
    assert await rows(cli_env, "SELECT text FROM messages") == []


async def test_behind_an_unreachable_redis_the_backfill_keeps_the_events_and_says_where(
    fake: FakeSlackAPI, cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import bus_redis

    with socket.socket() as sock:  # a local port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(bus_redis, "DRAIN_TIMEOUT_S", 0.3)
    monkeypatch.setattr(bus_redis, "CLOSE_FLUSH_S", 0.1)
    fake.history["CGENERAL"] = [msg(1767600001, "kept for later")]
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("GUILDHALL_SLACK__API_BASE_URL", fake.url)
    monkeypatch.setenv("GUILDHALL_BUS__KIND", "redis")
    monkeypatch.setenv("GUILDHALL_BUS__REDIS_URL", f"redis://127.0.0.1:{port}/0")
    result = await guildhall("import", "slack", "--channel", "CGENERAL")
    assert result.exit_code == 1, result.output
    spill = tmp_path / "redis-bus-guildhall.spill.jsonl"
    assert f"written to {spill}" in result.stderr and "kept for later" in spill.read_text()
    assert "Traceback" not in result.output
