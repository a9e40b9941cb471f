"""``guildhall import discord`` takes the export importers' path: the app's privacy gate with the
forgotten members and opt-outs of the store, and (in-process bus) the recorder, every brain and the
QA index.

Over discord.py's real REST layer (recorded pages), on a real store (SQLite, or PostgreSQL with
``GUILDHALL_TEST_STORE=postgresql``).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app as cli_app
from bot.store import OPTED_OUT_KEY, MessageRow, open_store
from tests.store_backends import set_cli_env
from tests.unit.adapters.discord.fakes import ALICE_ID, BOB_ID, GUILD_ID, PRIVATE_ID, record_every_client, serve_guild
from tests.unit.adapters.discord.test_backfill import history

OTHER_GUILD = "900000000000000900"


@pytest.fixture
def guild(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The guild of ``history()`` served over REST, and the environment of the ``guildhall``
    commands run here (no brains unless a test names some); returns the store's URL."""
    http = record_every_client(monkeypatch)
    messages, active, archived = history()
    serve_guild(http, messages, active_threads=[active], archived_threads=[archived], forbidden_channels={PRIVATE_ID})
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(tmp_path))
    return set_cli_env(monkeypatch, store_url, tmp_path)


def guildhall(*args: str) -> Result:
    result = CliRunner().invoke(cli_app, list(args))
    assert result.exit_code == 0, result.output
    return result


def rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    async def read() -> list[tuple[Any, ...]]:
        store = await open_store(url)
        try:
            return [tuple(r) for r in await store.db.fetchall(sql, params)]
        finally:
            await store.close()

    return asyncio.run(read())


def test_a_forgotten_member_stays_out_of_later_backfills(guild: str) -> None:
    """``privacy forget`` (or /forget-me), then a backfill reaching further back: none of the
    member's messages or thread titles is stored again, as ``import discord-export`` skips them."""
    guildhall("import", "discord", "--guild", GUILD_ID, "--since", "2026-11-19", "--json")
    guildhall("privacy", "forget", "--user", ALICE_ID, "--yes")
    guildhall("import", "discord", "--guild", GUILD_ID, "--since", "2026-11-16", "--json")

    texts = rows(guild, "SELECT author_id, text FROM messages")
    assert [text for author, text in texts if author == ALICE_ID and text] == []
    assert [text for author, text in texts if author == BOB_ID] == ["try 1.2"]
    assert rows(guild, "SELECT title FROM threads WHERE author_id = ? AND title <> ''", (ALICE_ID,)) == []


def test_an_opt_out_follows_the_member_into_the_backfilled_guild(guild: str) -> None:
    """A Discord member who opted out in another server is opted out in the guild the backfill
    meets them in, as when their first live message there passes the privacy gate."""

    async def opted_out_elsewhere() -> None:
        store = await open_store(guild)
        try:
            await store.upsert_messages([MessageRow("discord", OTHER_GUILD, "m1", "c1", ALICE_ID, 1.0, "hi")])
            await store.set_member_setting("discord", OTHER_GUILD, ALICE_ID, OPTED_OUT_KEY, True)
        finally:
            await store.close()

    asyncio.run(opted_out_elsewhere())
    guildhall("import", "discord", "--guild", GUILD_ID, "--since", "2026-11-16")
    assert rows(
        guild,
        "SELECT value FROM member_settings WHERE platform = 'discord' AND workspace_id = ? AND user_id = ? AND key = ?",
        (GUILD_ID, ALICE_ID, OPTED_OUT_KEY),
    ) == [("true",)]


def test_backfilled_history_reaches_every_brain_and_the_index(
    guild: str, fake_models: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the in-process bus the backfill runs through the full app, as ``import discord-export``
    does: the leaderboard ranks the guild's members, the forum post is indexed for questions, and the
    report carries the store's counts and the index rebuild."""
    monkeypatch.setenv("GUILDHALL_BRAINS", '["qa", "activity"]')
    monkeypatch.setenv("GUILDHALL_ACTIVITY__MIN_WORDS", "1")  # the recorded messages are short ("try 1.2")
    report = json.loads(guildhall("import", "discord", "--guild", GUILD_ID, "--since", "2026-11-16", "--json").stdout)

    board = guildhall("leaderboard", "--period", "all", "--platform", "discord", "--workspace", GUILD_ID, "--json")
    assert {e["user_id"] for e in json.loads(board.stdout)["entries"]} == {ALICE_ID, BOB_ID}
    assert "try 1.2" in guildhall("search", "my app crashes", "--json").stdout
    assert report["messages"] == 5 and report["store"]["messages"] == 5 and report["index"]["units_upserted"] >= 1

    again = guildhall("import", "discord", "--guild", GUILD_ID, "--since", "2026-11-16", "--no-index", "--json")
    assert "index" not in json.loads(again.stdout)
