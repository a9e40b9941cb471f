"""``guildhall recommend`` and ``guildhall eval recommend`` on a seeded store (deterministic embedder)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.brain import BrainContext
from bot.cli import app
from bot.store import ChannelRow, MessageRow, UserRow, open_store
from bot.testing import HashEmbedder

HOUR = 3600.0
T0 = 1_700_000_000.0
TOPICS = ["asyncio event loop", "django orm query", "pandas dataframe merge", "docker compose volume"]
USERS = [f"U{i}" for i in range(6)]


def _history() -> list[MessageRow]:
    rows = []
    for n in range(40):
        starter = USERS[n % 6]
        root = f"{n + 1}.0"
        ts = T0 + n * HOUR
        topic = TOPICS[n % 4]
        rows.append(MessageRow("slack", "T1", root, "C1", starter, ts, f"question about {topic}?", thread_id=root))
        for j, who in enumerate((USERS[(n + 1) % 6], USERS[(n + 2) % 6])):
            rows.append(
                MessageRow(
                    "slack", "T1", f"{n + 1}.{j + 1}", "C1", who, ts + 60 * (j + 1), f"{topic} answer", thread_id=root
                )
            )
    rows.append(MessageRow("slack", "T1", "900.0", "P1", "U3", T0 + 39 * HOUR, "private asyncio event loop plans?"))
    return rows


async def _seed(db: Path) -> None:
    store = await open_store(f"sqlite:///{db}")
    await store.upsert_channels(
        [ChannelRow("slack", "T1", "C1", "help", "public"), ChannelRow("slack", "T1", "P1", "staff", "private")]
    )
    await store.upsert_messages(_history())
    await store.set_channel_access("slack", "T1", "P1", user_ids=["U1", "U3"])
    await store.upsert_users([UserRow("slack", "T1", "U0", "Ada")])
    await store.close()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path / 'g.db'}")

    def fake_services(ctx: BrainContext) -> None:
        ctx.services.register("embedder", HashEmbedder())  # no model, no index: vectors come from texts

    monkeypatch.setattr("brain.qa.services.register_services", fake_services)
    asyncio.run(_seed(tmp_path / "g.db"))
    return tmp_path


async def _stored_weights(db: Path) -> Any:
    store = await open_store(f"sqlite:///{db}")
    try:
        return await store.get_workspace_setting("slack", "T1", "recommend.weights")
    finally:
        await store.close()


def _json(args: list[str]) -> Any:
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat()


def test_recommend_ranks_unjoined_readable_threads_as_of_a_time(env: Path) -> None:
    as_of = _iso(T0 + 39.5 * HOUR)
    items = _json(["recommend", "--user", "U0", "--k", "5", "--as-of", as_of, "--json"])
    assert 0 < len(items) <= 5
    assert all(i["why"] and isinstance(i["score"], float) for i in items)
    ids = [i["thread_id"] for i in items]
    assert "900.0" not in ids  # private channel U0 cannot read
    # Only data before --as-of: a thread opened later cannot be recommended.
    early = _json(["recommend", "--user", "U0", "--k", "40", "--as-of", _iso(T0 + 10.5 * HOUR), "--json"])
    assert early and all(float(i["thread_id"]) <= 11.0 for i in early)
    # U1 can read the private channel.
    assert "900.0" in [
        i["thread_id"] for i in _json(["recommend", "--user", "U1", "--k", "40", "--as-of", as_of, "--json"])
    ]
    # Replays record nothing.
    again = _json(["recommend", "--user", "U0", "--k", "5", "--as-of", as_of, "--json"])
    assert again == items
    assert _json(["recommend", "--user", "ada", "--k", "5", "--as-of", as_of, "--json"]) == items  # by name


def test_recommend_unknown_member_and_bad_time_fail_cleanly(env: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["recommend", "--user", "nobody-\u202e\U0001f600"])
    assert out.exit_code == 2 and "unknown member" in out.output
    out = runner.invoke(app, ["recommend", "--user", "U0", "--as-of", "yesterday-ish"])
    assert out.exit_code == 2 and "ISO" in out.output


def test_a_member_of_two_workspaces_is_never_picked_silently(env: Path) -> None:
    """A Discord user id is global: the same member in two guilds must be scoped, not guessed."""

    async def second_workspace() -> None:
        store = await open_store(f"sqlite:///{env / 'g.db'}")
        await store.upsert_workspace("slack", "T2", "Other")
        await store.upsert_users([UserRow("slack", "T2", "U0", "Ada elsewhere")])
        await store.close()

    asyncio.run(second_workspace())
    as_of = _iso(T0 + 39.5 * HOUR)
    out = CliRunner().invoke(app, ["recommend", "--user", "U0", "--as-of", as_of])
    assert out.exit_code == 2 and "several workspaces" in out.output and "slack:T1" in out.output
    items = _json(["recommend", "--user", "U0", "--workspace", "T1", "--k", "5", "--as-of", as_of, "--json"])
    assert items and "900.0" not in [i["thread_id"] for i in items]
    assert (
        _json(["recommend", "--user", "U0", "--platform", "slack", "--workspace", "T2", "--as-of", as_of, "--json"])
        == []
    )
    out = CliRunner().invoke(app, ["recommend", "--user", "U0", "--workspace", "T9"])
    assert out.exit_code == 2 and "unknown workspace" in out.output

    async def same_id_elsewhere() -> None:
        store = await open_store(f"sqlite:///{env / 'g.db'}")
        await store.upsert_workspace("discord", "T1", "A guild with that id")
        await store.close()

    asyncio.run(same_id_elsewhere())
    out = CliRunner().invoke(app, ["recommend", "--user", "U0", "--workspace", "T1", "--as-of", as_of])
    assert out.exit_code == 2 and "discord, slack" in out.output and "--platform" in out.output


def test_eval_recommend_reports_every_method(env: Path) -> None:
    report = _json(["eval", "recommend", "--split-frac", "0.7", "--k", "10", "--json"])
    methods = {m["method"]: m for m in report["methods"]}
    assert set(methods) == {"random", "popularity", "recent-activity", "content-only", "cf-only", "hybrid"}
    for m in methods.values():
        assert m["users"] > 0
        assert 0.0 <= m["ndcg"] <= m["hit_rate"] <= 1.0 or m["ndcg"] <= 1.0
        assert 0.0 <= m["coverage"] <= 1.0
    assert set(report["hybrid_weights"]) >= {"content", "cf", "activity", "freshness"}
    assert report["protocol"] == "readme"
    narrow = _json(["eval", "recommend", "--split-frac", "0.7", "--narrow", "--json"])
    assert narrow["protocol"] == "narrow" and {m["method"] for m in narrow["methods"]} == set(methods)
    text = CliRunner().invoke(app, ["eval", "recommend", "--split", _iso(T0 + 28 * HOUR)])
    assert text.exit_code == 0 and "hybrid" in text.output and "HR@10" in text.output
    saved = _json(["eval", "recommend", "--split-frac", "0.7", "--save-weights", "--json"])
    assert asyncio.run(_stored_weights(env / "g.db")) == saved["hybrid_weights"]
    assert CliRunner().invoke(app, ["eval", "recommend"]).exit_code == 2
    assert CliRunner().invoke(app, ["eval", "recommend", "--split", "x", "--split-frac", "0.5"]).exit_code == 2


async def _recent_threads(db: Path) -> None:
    """Threads of the last hours (the seeded history is years old: nothing to list today)."""
    store = await open_store(f"sqlite:///{db}")
    now = time.time()
    rows = []
    for n, topic in enumerate(TOPICS):
        root = f"{now - 3 * HOUR + n * 60:.6f}"
        rows.append(MessageRow("slack", "T1", root, "C1", "U1", float(root), f"today: {topic}?", thread_id=root))
        rows.append(MessageRow("slack", "T1", f"{root}1", "C1", "U2", float(root) + 30, "answer", thread_id=root))
    await store.upsert_messages(rows)
    await store.close()


async def _shown_rows(db: Path) -> list[Any]:
    store = await open_store(f"sqlite:///{db}")
    try:
        return list(await store.db.fetchall("SELECT user_id, thread_id FROM recommend_shown"))
    finally:
        await store.close()


def test_an_admin_looking_records_nothing_as_shown(env: Path) -> None:
    """Without --as-of the list is today's, but an admin's look is not the member seeing it: no
    impressions (joins later count against them) and nothing in the member's privacy export."""
    asyncio.run(_recent_threads(env / "g.db"))
    items = _json(["recommend", "--user", "U0", "--k", "5", "--json"])
    assert items
    assert asyncio.run(_shown_rows(env / "g.db")) == []
