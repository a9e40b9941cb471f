"""Audit log and data-access export from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.store import MessageRow, UserRow, open_store


async def _seed(url: str) -> None:
    store = await open_store(url)
    await store.upsert_messages([MessageRow("console", "local", "m1", "general", "ana", 1.0, "ana's words")])
    await store.upsert_users([UserRow("console", "local", "ana", "Ana Lima")])
    await store.db.execute(
        "INSERT INTO threads (platform, workspace_id, thread_id, channel_id, title, author_id, ts) "
        "VALUES ('console', 'local', 'm1', 'general', 'ana asks about wheels', 'ana', 1.0)"
    )
    await store.audit("console", "local", "mallory", "/guildhall index", allowed=False)
    await store.close()


def test_audit_and_export_and_forget(db_env: str, tmp_path: Path) -> None:
    import asyncio

    asyncio.run(_seed(db_env))
    runner = CliRunner()
    res = runner.invoke(app, ["audit", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)[0]["actor_id"] == "mallory"
    out = tmp_path / "ana.json"
    res = runner.invoke(app, ["privacy", "export", "--user", "ana", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["messages"][0]["text"] == "ana's words"
    by_name = runner.invoke(app, ["privacy", "export", "--user", "ana lima"])  # as members know her
    assert by_name.exit_code == 0 and json.loads(by_name.stdout)["messages"][0]["text"] == "ana's words"
    ghost = runner.invoke(app, ["privacy", "forget", "--user", "ghost", "--yes"])
    assert ghost.exit_code == 0 and "nothing is stored about a member 'ghost'" in ghost.stderr
    assert data["user"]["name"] == "Ana Lima" and data["thread_titles"][0]["title"] == "ana asks about wheels"
    assert runner.invoke(app, ["privacy", "forget", "--user", "ana"]).exit_code == 2
    res = runner.invoke(app, ["privacy", "forget", "--user", "ana", "--yes", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {"counts": json.loads(res.output)["counts"], "unfinished": []}
    assert json.loads(res.output)["counts"]["messages"] == 1
    res = runner.invoke(app, ["privacy", "export", "--user", "ana"])
    after = json.loads(res.output)
    assert after["messages"][0]["text"] == "" and after["user"]["name"] == "" and after["thread_titles"] == []


def test_bench_runs_the_named_benchmarks_and_fails_when_one_fails(monkeypatch) -> None:
    from typer.testing import CliRunner

    import benchmarks.run_all
    from bot.cli import app

    calls: list[list[str]] = []

    def fake_main(names: list[str]) -> int:
        calls.append(names)
        return 1 if "broken" in names else 0

    monkeypatch.setattr(benchmarks.run_all, "main", fake_main)
    runner = CliRunner()
    assert runner.invoke(app, ["bench", "import_speed"]).exit_code == 0
    assert runner.invoke(app, ["bench", "broken"]).exit_code == 1
    assert runner.invoke(app, ["bench"]).exit_code == 0
    assert calls == [["import_speed"], ["broken"], []]


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_audit_refuses_a_limit_below_one(db_env: str, limit: str) -> None:
    # `--limit -1` listed the whole log on SQLite and died with a traceback on PostgreSQL.
    import asyncio

    asyncio.run(_seed(db_env))
    result = CliRunner().invoke(app, ["audit", "--limit", limit, "--json"])
    assert result.exit_code == 2
    assert "--limit" in result.output and "mallory" not in result.output
