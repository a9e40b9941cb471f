"""DiscordChatExporter importer: replies become conversations, threads, system messages, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.importers.discord_export import import_discord_export
from bot.store import ChannelRow


def author(uid: str, name: str, bot: bool = False) -> dict[str, object]:
    return {"id": uid, "name": name, "nickname": name, "isBot": bot}


def export(channel: dict[str, object], messages: list[dict[str, object]]) -> dict[str, object]:
    return {
        "guild": {"id": "G1", "name": "Guild"},
        "channel": channel,
        "messages": messages,
        "messageCount": len(messages),
    }


def msg(
    mid: str,
    t: str,
    who: dict[str, object],
    content: str,
    mtype: str = "Default",
    ref: str | None = None,
    **extra: object,
) -> dict[str, object]:
    m: dict[str, object] = {
        "id": mid,
        "type": mtype,
        "timestamp": f"2024-01-01T10:{t}:00+00:00",
        "timestampEdited": None,
        "content": content,
        "author": who,
        "attachments": [],
        "reactions": [],
    }
    if ref:
        m["reference"] = {"messageId": ref, "channelId": "C1", "guildId": "G1"}
    m.update(extra)
    return m


ANA, BOB, BOT = author("10", "ana"), author("20", "bob"), author("30", "ci", bot=True)


async def test_replies_threads_and_system_messages(make_app, tmp_path: Path) -> None:
    channel_file = tmp_path / "general.json"
    channel_file.write_text(
        json.dumps(
            export(
                {"id": "C1", "type": "GuildTextChat", "name": "general"},
                [
                    msg("1", "00", ANA, "how do I install appium?"),
                    msg(
                        "2",
                        "01",
                        BOB,
                        "npm i -g appium",
                        "Reply",
                        "1",
                        reactions=[{"emoji": {"name": "✅"}, "count": 1, "users": [ANA]}],
                    ),
                    msg("3", "02", ANA, "thanks!", "Reply", "2"),
                    msg("4", "03", BOB, "pinned", "ChannelPinnedMessage"),
                    msg("5", "04", author("40", "newbie"), "", "GuildMemberJoin"),
                    msg("6", "05", BOT, "build passed"),
                    msg(
                        "7",
                        "06",
                        ANA,
                        "edited text",
                        timestampEdited="2024-01-01T11:00:00+00:00",
                        attachments=[{"fileName": "log.txt"}],
                    ),
                    {"id": "8", "type": "Default"},  # no author: skipped with a warning
                ],
            )
        )
    )
    thread_file = tmp_path / "thread.json"
    thread_file.write_text(
        json.dumps(
            export(
                {
                    "id": "T1",
                    "type": "GuildPublicThread",
                    "categoryId": "C1",
                    "category": "general",
                    "name": "flaky tests",
                },
                [msg("11", "10", ANA, "tests are flaky on CI"), msg("12", "11", BOB, "add retries")],
            )
        )
    )
    app, _ = await make_app()
    summary = await import_discord_export([channel_file, thread_file], app.bus, progress=False)
    await app.bus.drain()
    assert summary.errors == [] and summary.messages == 7 and summary.reactions == 1
    assert summary.skipped >= 2
    store = app.store
    root = await store.get_message("discord", "G1", "1")
    second = await store.get_message("discord", "G1", "3")
    assert root is not None and root.thread_id == "1"  # a first message with replies opens its conversation
    assert second is not None and second.thread_id == "1" and second.reply_to == "2"
    assert root.permalink == "https://discord.com/channels/G1/C1/1"
    assert await store.get_message("discord", "G1", "4") is None  # system message
    bot = await store.get_message("discord", "G1", "6")
    assert bot is not None and bot.is_bot
    edited = await store.get_message("discord", "G1", "7")
    assert edited is not None and edited.text.endswith("[file: log.txt]") and edited.edited_ts is not None
    in_thread = await store.get_message("discord", "G1", "12")
    assert in_thread is not None and in_thread.thread_id == "T1" and in_thread.channel_id == "C1"
    title = await store.db.fetchone("SELECT title FROM threads WHERE thread_id = ?", ("T1",))
    assert title == ("flaky tests",)
    assert await store.get_user("discord", "G1", "40") is not None  # the join
    assert await store.db.fetchone("SELECT name FROM workspaces WHERE workspace_id = 'G1'") == ("Guild",)


async def test_a_private_thread_is_readable_only_by_its_members(make_app, tmp_path: Path) -> None:
    """A private thread under a public channel is not the channel's: whoever reads #general must
    not read (nor get answers from) it; the members who posted in it may."""
    channel_file = tmp_path / "general.json"
    channel_file.write_text(
        json.dumps(export({"id": "C1", "type": "GuildTextChat", "name": "general"}, [msg("1", "00", ANA, "hi all")]))
    )
    secret = tmp_path / "secret.json"
    secret.write_text(
        json.dumps(
            export(
                {"id": "T9", "type": "GuildPrivateThread", "categoryId": "C1", "category": "general", "name": "ops"},
                [msg("91", "10", ANA, "the staging password is hunter2"), msg("92", "11", BOB, "rotated it")],
            )
        )
    )
    app, _ = await make_app()
    await import_discord_export([channel_file, secret], app.bus, progress=False)
    await app.bus.drain()
    store = app.store
    stored = await store.get_message("discord", "G1", "91")
    assert stored is not None and stored.channel_id == "T9" and stored.thread_id == "T9"
    channel = await store.get_channel("discord", "G1", "T9")
    assert channel is not None and channel.visibility == "private"
    public = await store.get_channel("discord", "G1", "C1")
    assert public is not None and public.visibility == "public"  # the parent stays as it was
    assert "T9" in await store.readable_channel_ids("discord", "G1", "10")
    assert "T9" in await store.readable_channel_ids("discord", "G1", "20")
    outsider = await store.readable_channel_ids("discord", "G1", "77")
    assert "C1" in outsider and "T9" not in outsider
    thread = await store.db.fetchone("SELECT channel_id, title FROM threads WHERE thread_id = ?", ("T9",))
    assert thread == ("T9", "ops")


async def test_an_imported_private_thread_goes_with_its_deleted_parent(make_app, tmp_path: Path) -> None:
    """The export names a private thread's parent (``categoryId``): the store records it, so deleting
    the parent channel later erases the thread's text too (Discord sends no delete for the thread)."""
    secret = tmp_path / "secret.json"
    secret.write_text(
        json.dumps(
            export(
                {"id": "T9", "type": "GuildPrivateThread", "categoryId": "C1", "category": "general", "name": "ops"},
                [msg("91", "10", ANA, "the staging password is hunter2")],
            )
        )
    )
    app, _ = await make_app()
    await import_discord_export([secret], app.bus, progress=False)
    await app.bus.drain()
    store = app.store
    channel = await store.get_channel("discord", "G1", "T9")
    assert channel is not None and channel.parent_id == "C1"
    await store.erase_channel("discord", "G1", "C1")
    stored = await store.get_message("discord", "G1", "91")
    assert stored is not None and stored.deleted and "hunter2" not in stored.text


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "Expecting"),
        ("[1, 2]", "expected a JSON object"),
        ('{"guild": {}, "messages": []}', "missing guild"),
    ],
)
async def test_bad_files_are_named_and_skipped(make_app, tmp_path: Path, content: str, reason: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(export({"id": "C1", "name": "general"}, [msg("1", "00", ANA, "hello")])))
    app, _ = await make_app()
    summary = await import_discord_export([bad, good], app.bus, progress=False)
    await app.bus.drain()
    assert len(summary.errors) == 1 and "bad.json" in summary.errors[0] and reason in summary.errors[0]
    assert (await app.store.counts())["messages"] == 1


async def test_empty_channel_and_reimport(make_app, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(export({"id": "C2", "name": "quiet"}, [])))
    one = tmp_path / "one.json"
    one.write_text(json.dumps(export({"id": "C1", "name": "general"}, [msg("1", "00", ANA, "x" * 40_000)])))
    app, _ = await make_app()
    for _ in range(2):
        await import_discord_export([empty, one], app.bus, progress=False)
        await app.bus.drain()
    counts = await app.store.counts()
    assert counts["messages"] == 1 and counts["channels"] == 2


@pytest.mark.realdata
async def test_real_gitter_export_matches_the_dataset_readme(make_app, shared_data: Path) -> None:
    app, _ = await make_app()
    summary = await import_discord_export([shared_data / "discord-gitter-appium.json"], app.bus, progress=False)
    await app.bus.drain()
    counts = await app.store.counts()
    assert summary.errors == [] and counts["messages"] == 23_887 and counts["threads"] == 2_866


async def test_an_export_never_makes_a_known_private_channel_public(make_app, tmp_path: Path) -> None:
    """Exports carry no permissions: a channel the live adapter stored as private stays private,
    a new one is public unless the operator imports with --private."""
    staff = tmp_path / "staff.json"
    staff.write_text(
        json.dumps(export({"id": "C7", "type": "GuildTextChat", "name": "staff"}, [msg("71", "00", ANA, "salaries")]))
    )
    general = tmp_path / "general.json"
    general.write_text(
        json.dumps(export({"id": "C1", "type": "GuildTextChat", "name": "general"}, [msg("1", "01", BOB, "hi")]))
    )
    ops = tmp_path / "ops.json"
    ops.write_text(
        json.dumps(export({"id": "C8", "type": "GuildTextChat", "name": "ops"}, [msg("81", "02", BOB, "x")]))
    )
    app, _ = await make_app()
    store = app.store
    await store.upsert_channels([ChannelRow("discord", "G1", "C7", "staff", "private")])
    await import_discord_export([staff, general], app.bus, progress=False)
    await import_discord_export([ops], app.bus, progress=False, private=True)
    await app.bus.drain()
    visibility = {c: (await store.get_channel("discord", "G1", c)).visibility for c in ("C7", "C1", "C8")}  # type: ignore[union-attr]
    assert visibility == {"C7": "private", "C1": "public", "C8": "private"}
    outsider = await store.readable_channel_ids("discord", "G1", "77")
    assert outsider >= {"C1"} and not outsider & {"C7", "C8"}
    assert "C8" in await store.readable_channel_ids("discord", "G1", "20")  # bob posted in #ops
