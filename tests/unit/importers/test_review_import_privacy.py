"""Imports over what the store already knows: an old export never widens who reads a channel, a
delete Slack recorded in the export is applied, a Discord DM export lands where live DMs do, and
damaged files read with the store at hand are no crash."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.importers.discord_export import import_discord_export
from bot.importers.slack_export import import_slack_export
from bot.permissions import DISCORD_DM_WORKSPACE
from bot.store import ChannelRow
from tests.unit.importers.test_discord_export import ANA, BOB, export, msg

ROOT_TS, REPLY_TS = "1700000001.000100", "1700000002.000100"


def slack_export(
    root: Path,
    *,
    channels: list[dict[str, object]] | None = None,
    groups: list[dict[str, object]] | None = None,
    days: dict[str, list[dict[str, object]]],
) -> Path:
    """A Slack export of workspace T9 (ana U1, bob U2) with one day file per folder in ``days``."""
    root.mkdir(parents=True)
    (root / "users.json").write_text(
        json.dumps([{"id": "U1", "team_id": "T9", "name": "ana"}, {"id": "U2", "team_id": "T9", "name": "bob"}])
    )
    (root / "channels.json").write_text(json.dumps(channels or []))
    if groups is not None:
        (root / "groups.json").write_text(json.dumps(groups))
    for folder, messages in days.items():
        (root / folder).mkdir()
        (root / folder / "2023-11-14.json").write_text(json.dumps(messages))
    return root


def post(user: str, text: str, ts: str, **extra: object) -> dict[str, object]:
    return {"type": "message", "user": user, "text": text, "ts": ts, **extra}


async def test_a_slack_export_never_makes_a_channel_the_store_knows_as_private_public(make_app, tmp_path: Path) -> None:
    # #staff was public when exported and made private since: the live adapter stored it private.
    old = slack_export(
        tmp_path / "old",
        channels=[{"id": "C1", "name": "staff", "members": ["U1"]}, {"id": "C2", "name": "general"}],
        days={"staff": [post("U1", "salaries are due", ROOT_TS)], "general": [post("U2", "hi", REPLY_TS)]},
    )
    app, _ = await make_app()
    store = app.store
    await store.upsert_channels([ChannelRow("slack", "T9", "C1", "staff", "private")])
    await store.set_channel_access("slack", "T9", "C1", user_ids=["U1"])
    summary = await import_slack_export(old, app.bus, progress=False)
    await app.bus.drain()
    assert summary.errors == [] and summary.messages == 2
    staff, general = await store.get_channel("slack", "T9", "C1"), await store.get_channel("slack", "T9", "C2")
    assert staff is not None and staff.visibility == "private"
    assert general is not None and general.visibility == "public"  # a channel new to the store: as listed
    assert await store.readable_channel_ids("slack", "T9", "U2") == {"C2"}
    assert await store.readable_channel_ids("slack", "T9", "U1") == {"C1", "C2"}


async def test_a_member_who_left_a_private_slack_channel_does_not_read_it_after_an_import(
    make_app, tmp_path: Path
) -> None:
    export_root = slack_export(
        tmp_path / "export",
        groups=[{"id": "G1", "name": "mods", "members": ["U1"]}],
        days={
            "mods": [
                post("U2", "<@U2> has joined", "1700000000.000100", subtype="channel_join"),
                post("U2", "hello mods", ROOT_TS),
                post("U2", "<@U2> has left", REPLY_TS, subtype="group_leave"),
                post("U1", "the ban list is ...", "1700000003.000100"),
            ]
        },
    )
    app, _ = await make_app()
    summary = await import_slack_export(export_root, app.bus, progress=False)
    await app.bus.drain()
    assert summary.errors == [] and summary.messages == 2
    assert "G1" not in await app.store.readable_channel_ids("slack", "T9", "U2")
    assert "G1" in await app.store.readable_channel_ids("slack", "T9", "U1")


async def test_a_member_who_left_and_came_back_reads_the_private_channel_again(make_app, tmp_path: Path) -> None:
    export_root = slack_export(
        tmp_path / "export",
        groups=[{"id": "G1", "name": "mods", "members": ["U1", "U2"]}],
        days={
            "mods": [
                post("U2", "hello mods", ROOT_TS),
                post("U2", "<@U2> has left", REPLY_TS, subtype="channel_leave"),
                post("U2", "<@U2> has joined", "1700000003.000100", subtype="channel_join"),
            ]
        },
    )
    app, _ = await make_app()
    await import_slack_export(export_root, app.bus, progress=False)
    await app.bus.drain()
    assert "G1" in await app.store.readable_channel_ids("slack", "T9", "U2")


def _thread(root_text_or_tombstone: str) -> list[dict[str, object]]:
    """A thread root with one reply; ``tombstone``: the root as Slack exports it once deleted."""
    if root_text_or_tombstone == "tombstone":
        root = {
            "type": "message",
            "subtype": "tombstone",
            "user": "USLACKBOT",
            "text": "This message was deleted.",
            "hidden": True,
            "ts": ROOT_TS,
            "thread_ts": ROOT_TS,
            "reply_count": 1,
        }
    else:
        root = post("U1", root_text_or_tombstone, ROOT_TS, thread_ts=ROOT_TS, reply_count=1)
    return [root, post("U2", "rotate it now", REPLY_TS, thread_ts=ROOT_TS, parent_user_id="U1")]


@pytest.mark.parametrize("order", ["older export first", "newer export first"])
async def test_a_thread_root_deleted_in_slack_is_deleted_whatever_the_import_order(
    make_app, tmp_path: Path, order: str
) -> None:
    channels = [{"id": "C1", "name": "help"}]
    older = slack_export(tmp_path / "older", channels=channels, days={"help": _thread("my token is hunter2")})
    newer = slack_export(tmp_path / "newer", channels=channels, days={"help": _thread("tombstone")})
    app, _ = await make_app()
    for path in [older, newer] if order == "older export first" else [newer, older]:
        summary = await import_slack_export(path, app.bus, progress=False)
        await app.bus.drain()
        assert summary.errors == []
    root = await app.store.get_message("slack", "T9", f"C1:{ROOT_TS}")
    assert root is not None and root.deleted and root.text == ""
    reply = await app.store.get_message("slack", "T9", f"C1:{REPLY_TS}")
    assert reply is not None and reply.text == "rotate it now" and reply.thread_id == f"C1:{ROOT_TS}"


def dm_export(messages: list[dict[str, object]], channel_id: str = "D1") -> dict[str, object]:
    """A DiscordChatExporter DM file: DMs sit under its "Direct Messages" pseudo-guild, id 0."""
    document = export({"id": channel_id, "type": "DirectTextChat", "name": "bob"}, messages)
    document["guild"] = {"id": "0", "name": "Direct Messages", "iconUrl": ""}
    return document


async def test_a_discord_dm_export_is_stored_where_live_dms_are(make_app, tmp_path: Path) -> None:
    first = tmp_path / "dm [part 1].json"
    first.write_text(json.dumps(dm_export([msg("1", "00", ANA, "can you review my PR?")])))
    second = tmp_path / "dm [part 2].json"
    second.write_text(json.dumps(dm_export([msg("2", "01", BOB, "sure, tonight", "Reply", "1")])))
    app, _ = await make_app()
    store = app.store
    await import_discord_export([first], app.bus, progress=False, store=store)
    await app.bus.drain()
    summary = await import_discord_export([second], app.bus, progress=False, store=store)
    await app.bus.drain()
    assert summary.errors == [] and summary.messages == 1
    assert await store.get_message("discord", "0", "1") is None
    question = await store.get_message("discord", DISCORD_DM_WORKSPACE, "1")
    assert question is not None and question.permalink == "https://discord.com/channels/@me/D1/1"
    # The second file's reply found the first file's message in the store, under the same workspace.
    answer = await store.get_message("discord", DISCORD_DM_WORKSPACE, "2")
    assert answer is not None and answer.thread_id == "1" and answer.reply_to == "1"
    rows = await store.db.fetchall("SELECT DISTINCT workspace_id FROM users WHERE platform = 'discord'")
    assert {str(r[0]) for r in rows} == {DISCORD_DM_WORKSPACE}
    channel = await store.get_channel("discord", DISCORD_DM_WORKSPACE, "D1")
    assert channel is not None and channel.visibility == "dm"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path}/gh.db")
    monkeypatch.setenv("GUILDHALL_BRAINS", "[]")
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_a_wrong_typed_channel_type_or_message_id_is_no_traceback(env: Path) -> None:
    """The command reads each file's replies against the store first: a list where a string was
    expected (a channel type, a message id) crashed the import there with a traceback."""
    odd_type = export({"id": "C1", "type": ["GuildTextChat"], "name": "general"}, [msg("1", "00", ANA, "hello")])
    odd_id = export(
        {"id": "C2", "type": "GuildTextChat", "name": "random"},
        [msg("5", "00", ANA, "question"), {**msg("6", "01", BOB, "answer", "Reply", "5"), "id": ["6"]}],
    )
    paths = []
    for name, document in (("odd_type.json", odd_type), ("odd_id.json", odd_id)):
        (env / name).write_text(json.dumps(document))
        paths.append(str(env / name))
    result = CliRunner().invoke(cli, ["import", "discord-export", *paths, "--quiet"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    assert "imported 2 messages" in result.output and "from 2 files" in result.output
