"""``guildhall leaderboard|trends|report`` against a seeded SQLite store."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from bot.cli import app
from bot.events import ReactionAdded, utcnow
from bot.recorder import Recorder
from bot.store import ChannelRow, UserRow, open_store
from bot.testing import make_message
from bot.testing.builders import channel, user
from brain.activity.counters import ActivityCounters


async def _seed(url: str) -> None:
    store = await open_store(url)
    counters = ActivityCounters(store, ZoneInfo("UTC"))
    now = utcnow() - timedelta(hours=1)
    q = make_message("how do I read a toml file in python?", author="asker", chan="help", message_id="q1", ts=now)
    a = make_message(
        "use tomllib from the standard library",
        author="helper",
        chan="help",
        message_id="a1",
        thread_id="q1",
        ts=now + timedelta(minutes=1),
    )
    done = ReactionAdded(channel=channel("help"), message_id="a1", user=user("asker"), emoji="white_check_mark", ts=now)
    await Recorder(store).handle_batch([q, a, done])  # as live: the board counts recorded public channels
    await counters.apply([q, a, done])
    await store.upsert_users([UserRow("console", "local", "helper", "Helga the Helper")])
    await store.upsert_channels([ChannelRow("console", "local", "C9", "help-desk", "public")])
    await store.close()


def test_leaderboard_trends_and_report(db_env: str, tmp_path: Path) -> None:
    asyncio.run(_seed(db_env))
    runner = CliRunner()
    res = runner.invoke(app, ["leaderboard", "--json"])
    assert res.exit_code == 0, res.output
    board = json.loads(res.output)
    assert board["entries"][0]["user_id"] == "helper" and board["entries"][0]["counts"]["helpful"] == 1
    assert board["entries"][0]["name"] == "Helga the Helper"
    res = runner.invoke(app, ["leaderboard", "--period", "all"])
    assert res.exit_code == 0 and "Helga the Helper" in res.output
    assert runner.invoke(app, ["leaderboard", "--period", "year"]).exit_code != 0
    # A platform or workspace that has no activity is said so, not answered with another's board.
    res = runner.invoke(app, ["leaderboard", "--platform", "slack"])
    assert res.exit_code != 0 and "no activity recorded for --platform slack" in res.output
    assert "Helga the Helper" in runner.invoke(app, ["leaderboard", "--workspace", "local"]).output
    # A channel by #name as members know it; an unknown one is an error, not an empty board.
    res = runner.invoke(app, ["leaderboard", "--channel", "#help-desk", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["channel_id"] == "C9", res.output
    res = runner.invoke(app, ["leaderboard", "--channel", "nosuch"])
    assert res.exit_code != 0 and "no channel 'nosuch'" in res.output
    res = runner.invoke(app, ["trends", "--at", "9999-12-31T23:59:59"])
    assert res.exit_code != 0 and "--at must be between 1971 and 9000" in res.output
    res = runner.invoke(app, ["trends", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == []
    out = tmp_path / "report.html"
    res = runner.invoke(app, ["report", "--out", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "Helga the Helper" in page
