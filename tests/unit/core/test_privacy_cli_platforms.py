"""``guildhall privacy export|forget`` find a member on any platform; ``trends --since`` is hidden.

Members of a Slack team and of two Discord guilds live in one real store (SQLite, or a throwaway
PostgreSQL database with ``GUILDHALL_TEST_STORE=postgresql``), as after importing both histories.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.cli_support import find_member
from bot.events import Platform
from bot.store import MessageRow, UserRow, open_store
from tests.store_backends import fresh_database_url

MEMBERS = [
    UserRow("slack", "T1", "U1", "Ada"),
    UserRow("slack", "T1", "U2", "Sam"),
    UserRow("discord", "G1", "222", "Sam"),  # the same name as a Slack member: two people
    UserRow("discord", "G1", "111", "Bob"),
    UserRow("discord", "G2", "111", "Bob"),  # a Discord id is global: one person in two guilds
    UserRow("slack", "T1", "X7", "Xavier"),
    UserRow("discord", "G1", "X7", "Xena"),  # the same id on two platforms: two people
]


def _messages() -> list[MessageRow]:
    return [
        MessageRow(u.platform, u.workspace_id, f"m-{u.platform}-{u.workspace_id}-{u.user_id}", "C1", u.user_id, 1.0, w)
        for u, w in zip(
            MEMBERS, ["ada's", "sam on slack", "sam on discord", "bob g1", "bob g2", "xav", "xena"], strict=True
        )
    ] + [
        # Known from messages only (history imported without a users file), on two platforms.
        MessageRow("slack", "T1", "m-z-slack", "C1", "Z5", 2.0, "z on slack"),
        MessageRow("discord", "G1", "m-z-discord", "C1", "Z5", 2.0, "z on discord"),
    ]


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    """A store URL for the CLI to open: a SQLite file, or a throwaway PostgreSQL database."""
    with fresh_database_url(tmp_path) as url:
        yield url


@pytest.fixture
def seeded(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GUILDHALL_STORE__URL", store_url)
    monkeypatch.setenv("GUILDHALL_BRAINS", "[]")
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_VECTORS__PATH", str(tmp_path / "chroma"))

    async def seed() -> None:
        store = await open_store(store_url)
        try:
            await store.upsert_users(MEMBERS)
            await store.upsert_messages(_messages())
        finally:
            await store.close()

    asyncio.run(seed())
    return store_url


def _texts(url: str) -> dict[tuple[str, str, str], str]:
    """Every stored message's text by (platform, workspace, author)."""

    async def read() -> dict[tuple[str, str, str], str]:
        store = await open_store(url)
        try:
            rows = await store.db.fetchall("SELECT platform, workspace_id, author_id, text FROM messages")
            return {(r[0], r[1], r[2]): r[3] for r in rows}
        finally:
            await store.close()

    return asyncio.run(read())


def test_export_finds_a_slack_member_by_id_or_name_without_platform_options(seeded: str, tmp_path: Path) -> None:
    # Before: "nothing is stored about a member 'U1' in console:local" and an empty export.
    runner = CliRunner()
    for who in ("U1", "ada"):
        res = runner.invoke(app, ["privacy", "export", "--user", who])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["messages"][0]["text"] == "ada's"
        assert "nothing is stored" not in res.stderr
    # Writing to a file, the text on stdout says which member the search found.
    out = tmp_path / "ada.json"
    res = runner.invoke(app, ["privacy", "export", "--user", "ada", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "member: slack:T1 U1 (Ada)" in res.stderr and json.loads(out.read_text())["user"]["name"] == "Ada"


def test_a_discord_id_in_two_guilds_is_one_member_exported_with_both(seeded: str) -> None:
    res = CliRunner().invoke(app, ["privacy", "export", "--user", "111"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["messages"][0]["text"] == "bob g1"
    assert data["other_workspaces"]["G2"]["messages"][0]["text"] == "bob g2"


@pytest.mark.parametrize(
    ("who", "listed", "why"),
    [
        ("sam", ["slack:T1 U2 (Sam)", "discord:G1 222 (Sam)"], "several members are named 'sam'"),
        ("X7", ["slack:T1 X7 (Xavier)", "discord:G1 X7 (Xena)"], "'X7' is a member of several workspaces"),
        ("Z5", ["slack:T1 Z5", "discord:G1 Z5"], "'Z5' is a member of several workspaces"),
    ],
)
def test_forget_refuses_a_member_it_would_have_to_guess_and_erases_nobody(
    seeded: str, who: str, listed: list[str], why: str
) -> None:
    before = _texts(seeded)
    for command in (["forget", "--yes"], ["export"]):
        res = CliRunner().invoke(app, ["privacy", command[0], "--user", who, *command[1:]])
        assert res.exit_code == 2, res.output
        assert why in res.stderr and all(c in res.stderr for c in listed), res.stderr
        assert "--platform" in res.stderr and "--workspace" in res.stderr
    assert _texts(seeded) == before


def test_forget_with_platform_and_workspace_erases_only_the_chosen_member(seeded: str) -> None:
    res = CliRunner().invoke(
        app, ["privacy", "forget", "--user", "Sam", "--platform", "slack", "--workspace", "T1", "--yes", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["counts"]["messages"] == 1 and res.stderr == ""
    after = _texts(seeded)
    assert after[("slack", "T1", "U2")] == ""
    assert after[("discord", "G1", "222")] == "sam on discord"  # the other Sam is untouched
    assert after[("slack", "T1", "U1")] == "ada's"


def test_forget_found_by_search_erases_that_member_only(seeded: str) -> None:
    res = CliRunner().invoke(app, ["privacy", "forget", "--user", "U1", "--yes"])
    assert res.exit_code == 0, res.output
    assert "member: slack:T1 U1 (Ada)" in res.stderr and "erased 1 items" in res.stdout
    after = _texts(seeded)
    assert after[("slack", "T1", "U1")] == ""
    assert [k for k, text in after.items() if text == ""] == [("slack", "T1", "U1")]


def test_one_scope_option_narrows_the_search_and_unknown_members_are_warned_about(seeded: str) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["privacy", "export", "--user", "sam", "--platform", "discord"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["messages"][0]["text"] == "sam on discord"
    res = runner.invoke(app, ["privacy", "forget", "--user", "ghost", "--yes"])
    assert res.exit_code == 0, res.output
    assert "nothing is stored about a member 'ghost' on any platform, in any workspace (all were searched" in (
        res.stderr
    )
    # Explicit scope keeps today's behaviour: only that workspace, said so.
    res = runner.invoke(app, ["privacy", "export", "--user", "U1", "--platform", "console", "--workspace", "local"])
    assert res.exit_code == 0 and "nothing is stored about a member 'U1' in console:local" in res.stderr
    res = runner.invoke(app, ["privacy", "export", "--user", "U1", "--platform", "teams"])
    assert res.exit_code == 2 and "platform must be one of" in res.output


def test_privacy_help_says_id_or_name() -> None:
    for command in ("export", "forget"):
        res = CliRunner().invoke(app, ["privacy", command, "--help"], terminal_width=200)
        assert res.exit_code == 0 and "Member id or name" in res.output


def test_the_shared_resolver_never_picks_an_id_known_from_messages_on_two_platforms(seeded: str) -> None:
    # It took the first workspace its messages were found in (recommend and ask --as use it too).
    async def resolve() -> None:
        store = await open_store(seeded)
        try:
            with pytest.raises(Exception, match="several workspaces"):
                await find_member(store.db, "Z5", option="--user")
            member = await find_member(store.db, "Z5", option="--user", workspace=("discord", "G1"))
            assert (member.platform, member.workspace_id) == (Platform.DISCORD, "G1")
        finally:
            await store.close()

    asyncio.run(resolve())


def test_trends_since_still_works_hidden_and_deprecated(seeded: str) -> None:
    runner = CliRunner()
    assert "--since" not in runner.invoke(app, ["trends", "--help"], terminal_width=200).output
    res = runner.invoke(app, ["trends", "--since", "9999-12-31T23:59:59"])  # the same value check as --at
    assert res.exit_code == 2 and "--at must be between 1971 and 9000" in res.output
    assert res.stderr.count("--since is deprecated") == 1
    res = runner.invoke(app, ["trends", "--at", "2024-01-01", "--since", "2024-01-01"])
    assert res.exit_code == 2 and "give --at only" in res.output
