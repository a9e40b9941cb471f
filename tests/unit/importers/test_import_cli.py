"""``guildhall import slack-export|discord-export`` end to end on small exports."""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.unit.importers.test_discord_export import ANA, BOB, export, msg
from tests.unit.importers.test_slack_export import write_export


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path}/gh.db")
    monkeypatch.setenv("GUILDHALL_BRAINS", "[]")
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    return tmp_path


def test_slack_export_command_reports_json_and_fails_on_bad_files(env: Path) -> None:
    folder = write_export(env / "export")
    runner = CliRunner()
    interval = sys.getswitchinterval()
    ok = runner.invoke(app, ["import", "slack-export", str(folder), "--json", "--quiet"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.output)
    assert data["messages"] == 8 and data["store"]["messages"] == 8 and data["errors"] == []
    # The import tuned the interpreter for speed (bot.runtime) and restored it at the end.
    assert gc.get_freeze_count() == 0 and sys.getswitchinterval() == interval
    (folder / "help" / "2023-11-20.json").write_text("{broken")
    bad = runner.invoke(app, ["import", "slack-export", str(folder), "--json", "--quiet"])
    assert bad.exit_code == 1 and "2023-11-20.json" in bad.output


def test_discord_export_command(env: Path) -> None:
    path = env / "chat.json"
    path.write_text(
        json.dumps(
            {
                "guild": {"id": "G1", "name": "g"},
                "channel": {"id": "C1", "name": "general"},
                "messages": [
                    {
                        "id": "1",
                        "type": "Default",
                        "timestamp": "2024-01-01T00:00:00+00:00",
                        "content": "hi",
                        "author": {"id": "7", "name": "ana"},
                    }
                ],
            }
        )
    )
    result = CliRunner().invoke(app, ["import", "discord-export", str(path), "--quiet"])
    assert result.exit_code == 0 and "imported 1 messages" in result.output


def test_slack_export_command_fails_on_a_wrong_path_or_an_unknown_workspace(env: Path) -> None:
    (env / "empty").mkdir()
    runner = CliRunner()
    wrong = runner.invoke(app, ["import", "slack-export", str(env / "empty"), "--quiet"])
    assert wrong.exit_code == 1 and "not a Slack export" in wrong.output
    folder = write_export(env / "export")
    users = json.loads((folder / "users.json").read_text())
    (folder / "users.json").write_text(json.dumps([{k: v for k, v in u.items() if k != "team_id"} for u in users]))
    unknown = runner.invoke(app, ["import", "slack-export", str(folder), "--quiet"])
    assert unknown.exit_code == 1 and "--workspace" in unknown.output
    given = runner.invoke(app, ["import", "slack-export", str(folder), "--workspace", "T9", "--quiet", "--json"])
    assert given.exit_code == 0 and json.loads(given.output)["messages"] == 8


def test_slack_export_without_a_team_domain_says_how_to_fix_its_links(env: Path) -> None:
    """Exports do not record the workspace's address: the summary says the links are a guess and
    how to fix them, and an import with --team-domain stores working links."""
    folder = write_export(env / "export")
    runner = CliRunner()
    guessed = runner.invoke(app, ["import", "slack-export", str(folder), "--quiet", "--no-index"])
    assert guessed.exit_code == 0, guessed.output
    assert "note: message links point at https://" in guessed.output and "--team-domain" in guessed.output
    fixed = runner.invoke(
        app, ["import", "slack-export", str(folder), "--quiet", "--no-index", "--team-domain", "acme", "--json"]
    )
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.output)["hints"] == []
    import sqlite3

    with sqlite3.connect(env / "gh.db") as db:
        links = {row[0].split("/archives/")[0] for row in db.execute("SELECT permalink FROM messages")}
    assert links == {"https://acme.slack.com"}  # the re-import replaced the guessed links


def test_discord_export_command_continues_conversations_of_an_earlier_import(env: Path) -> None:
    channel = {"id": "C1", "type": "GuildTextChat", "name": "general"}
    first, later = env / "general.json", env / "general-after.json"
    first.write_text(json.dumps(export(channel, [msg("1", "00", ANA, "q?"), msg("2", "01", BOB, "a", "Reply", "1")])))
    later.write_text(json.dumps(export(channel, [msg("3", "02", ANA, "still failing", "Reply", "2")])))
    runner = CliRunner()
    for path in (first, later):
        result = runner.invoke(app, ["import", "discord-export", str(path), "--quiet", "--json", "--no-index"])
        assert result.exit_code == 0, result.output
    # Message 3 joins conversation 1 through the store, instead of opening a thread at message 2.
    assert json.loads(result.output)["store"]["threads"] == 1


def test_import_beside_the_running_bot_leaves_its_metrics_port_alone(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import run in the bot's container inherits ``GUILDHALL_METRICS_PORT`` (deploy/): the port
    the bot serves ``/metrics`` on. The import serves no metrics, so it does not fail to bind it."""
    import socket

    channel = {"id": "C1", "type": "GuildTextChat", "name": "general"}
    path = env / "general.json"
    path.write_text(json.dumps(export(channel, [msg("1", "00", ANA, "hello there")])))
    with socket.socket() as bot_metrics:
        bot_metrics.bind(("127.0.0.1", 0))
        bot_metrics.listen()
        monkeypatch.setenv("GUILDHALL_METRICS_PORT", str(bot_metrics.getsockname()[1]))
        result = CliRunner().invoke(app, ["import", "discord-export", str(path), "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["store"]["messages"] == 1


def test_an_import_starts_only_the_forgotten_members_refresh(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The import's app has no adapter: a job it ran (the weekly board caught up on start, a help
    question's answer) would post into nothing while its slot was recorded as made. The refresh of
    forgotten members runs: one who runs /forget-me while a long import goes on is dropped from it."""
    from bot.app import FORGOTTEN_REFRESH_JOB
    from bot.scheduler import Scheduler

    started: list[Any] = []

    async def start(self: Scheduler, *, only: Any = None) -> None:
        started.append((sorted(self.job_names), None if only is None else sorted(only)))

    monkeypatch.setattr(Scheduler, "start", start)
    monkeypatch.setenv("GUILDHALL_BRAINS", '["activity"]')
    folder = write_export(env / "export")
    result = CliRunner().invoke(app, ["import", "slack-export", str(folder), "--json", "--quiet", "--no-index"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["store"]["messages"] == 8
    [(jobs, only)] = started
    assert only == [FORGOTTEN_REFRESH_JOB] and len(jobs) > 1  # the activity brain's jobs are registered, not run


@pytest.mark.parametrize("given", ["acme", "ACME.slack.com", "https://acme.slack.com/", "http://acme.slack.com"])
def test_team_domain_given_as_an_address_makes_working_links(env: Path, given: str) -> None:
    """``acme.slack.com`` made https://acme.slack.com.slack.com/... links, a URL worse."""
    folder = write_export(env / "export")
    result = CliRunner().invoke(
        app, ["import", "slack-export", str(folder), "--quiet", "--no-index", "--team-domain", given, "--json"]
    )
    assert result.exit_code == 0, result.output
    import sqlite3

    with sqlite3.connect(env / "gh.db") as db:
        links = {row[0].split("/archives/")[0] for row in db.execute("SELECT permalink FROM messages")}
    assert links == {"https://acme.slack.com"}


@pytest.mark.parametrize("given", ["", "acme.example.com", "https://acme.slack.com/archives/C1", "ac me", "écho"])
def test_a_team_domain_that_is_no_subdomain_is_refused_before_importing(env: Path, given: str) -> None:
    folder = write_export(env / "export")
    result = CliRunner().invoke(app, ["import", "slack-export", str(folder), "--quiet", "--team-domain", given])
    said = " ".join(result.output.replace("│", " ").split())  # the message, out of its wrapped box
    assert result.exit_code == 2 and "is not a workspace address: give its subdomain (acme for acme.slack.com)" in said
    assert not (env / "gh.db").exists()  # refused before the store was opened


async def test_import_slack_export_refuses_a_bad_team_domain(make_app, tmp_path: Path) -> None:
    from bot.importers.slack_export import import_slack_export

    app, _ = await make_app()
    summary = await import_slack_export(write_export(tmp_path / "export"), app.bus, team_domain="a/b", progress=False)
    assert summary.messages == 0 and summary.errors and "is not a workspace address" in summary.errors[0]
