"""Slack export importer on small exports written here: folder and zip, threads, subtypes, bad files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from bot.bus import InProcessBus
from bot.importers.slack_export import import_slack_export
from bot.recorder import Recorder

ODD = "RTL \u202eעברית\u202c, ZWJ 👩‍👩‍👧, combining e\u0301, NUL\x00, astral 𝔘𝔫𝔦"
HUGE = "x" * 40_000


def write_export(root: Path, *, bad_day: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "users.json").write_text(
        json.dumps(
            [
                {"id": "U1", "team_id": "T9", "name": "ana", "profile": {"display_name": "Ana"}},
                {"id": "U2", "team_id": "T9", "name": "bob", "real_name": "Bob"},
                {"id": "B1", "team_id": "T9", "name": "ci-bot", "is_bot": True},
            ]
        )
    )
    (root / "channels.json").write_text(
        json.dumps([{"id": "C1", "name": "help", "members": ["U1", "U2"]}, {"id": "C2", "name": "empty"}])
    )
    (root / "groups.json").write_text(json.dumps([{"id": "G1", "name": "mods", "members": ["U2"]}]))
    (root / "help").mkdir(exist_ok=True)
    (root / "empty").mkdir(exist_ok=True)
    (root / "mods").mkdir(exist_ok=True)
    day1 = [
        {
            "type": "message",
            "subtype": "channel_join",
            "user": "U2",
            "text": "<@U2> has joined",
            "ts": "1700000000.000100",
        },
        {
            "type": "message",
            "user": "U1",
            "text": "how do I pin poetry deps?",
            "ts": "1700000001.000100",
            "thread_ts": "1700000001.000100",
            "reply_count": 2,
        },
        {
            "type": "message",
            "user": "U2",
            "text": "poetry add pkg==1.0",
            "ts": "1700000002.000100",
            "thread_ts": "1700000001.000100",
            "parent_user_id": "U1",
            "reactions": [{"name": "white_check_mark", "users": ["U1"], "count": 1}],
            "edited": {"user": "U2", "ts": "1700000100.000000"},
        },
        {
            "type": "message",
            "subtype": "thread_broadcast",
            "user": "U1",
            "text": "thanks, that worked",
            "ts": "1700000003.000100",
            "thread_ts": "1700000001.000100",
        },
        {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B1",
            "username": "ci-bot",
            "text": "build ok",
            "ts": "1700000004.000100",
        },
        {"type": "message", "subtype": "channel_topic", "user": "U1", "text": "set topic", "ts": "1700000005.000100"},
        {"type": "message", "user": "U1", "text": "", "ts": "1700000006.000100", "files": [{"name": "trace.txt"}]},
        {"type": "message", "user": "U2", "text": ODD, "ts": "1700000007.000100"},
        {"type": "message", "user": "U2", "text": HUGE, "ts": "1700000008.000100"},
        {"type": "message", "text": "no ts here", "user": "U1"},
    ]
    (root / "help" / "2023-11-14.json").write_text(json.dumps(day1, ensure_ascii=False))
    (root / "help" / "2023-11-15.json").write_text(bad_day if bad_day is not None else "[]")
    (root / "mods" / "2023-11-14.json").write_text(
        json.dumps([{"type": "message", "user": "U2", "text": "private note", "ts": "1700000009.000100"}])
    )
    return root


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in folder.rglob("*"):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return target


@pytest.mark.parametrize("as_zip", [False, True])
async def test_export_lands_in_the_store_like_live_traffic(make_app, tmp_path: Path, as_zip: bool) -> None:
    folder = write_export(tmp_path / "export")
    path = zip_folder(folder, tmp_path / "export.zip") if as_zip else folder
    app, _ = await make_app()
    summary = await import_slack_export(path, app.bus, progress=False)
    await app.bus.drain()
    assert summary.errors == []
    assert summary.messages == 8 and summary.threads == 1 and summary.reactions == 1
    assert summary.skipped >= 2  # the topic change and the message without a ts
    store = app.store
    reply = await store.get_message("slack", "T9", "C1:1700000002.000100")
    assert reply is not None and reply.thread_id == "C1:1700000001.000100" and reply.edited_ts == 1700000100.0
    assert reply.permalink == "https://t9.slack.com/archives/C1/p1700000002000100?thread_ts=1700000001.000100&cid=C1"
    root = await store.get_message("slack", "T9", "C1:1700000001.000100")
    assert root is not None and root.permalink == "https://t9.slack.com/archives/C1/p1700000001000100"
    bot = await store.get_message("slack", "T9", "C1:1700000004.000100")
    assert bot is not None and bot.is_bot
    assert await store.get_message("slack", "T9", "C1:1700000005.000100") is None  # topic change is not chat
    files = await store.get_message("slack", "T9", "C1:1700000006.000100")
    assert files is not None and files.text == "[file: trace.txt]"
    odd = await store.get_message("slack", "T9", "C1:1700000007.000100")
    assert odd is not None and odd.text == ODD.replace("\x00", "\ufffd")  # NUL is stored as U+FFFD everywhere
    huge = await store.get_message("slack", "T9", "C1:1700000008.000100")
    assert huge is not None and len(huge.text) == 40_000
    assert [r.user_id for r in await store.reactions_for("slack", "T9", "C1:1700000002.000100")] == ["U1"]
    assert await store.readable_channel_ids("slack", "T9", "U1") == {"C1", "C2"}
    assert await store.readable_channel_ids("slack", "T9", "U2") == {"C1", "C2", "G1"}
    user = await store.get_user("slack", "T9", "U1")
    assert user is not None and user.name == "Ana"


async def test_malformed_day_file_is_reported_and_the_rest_imported(make_app, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export", bad_day='[{"type": "message", "ts": ')
    (folder / "help" / "2023-11-16.json").write_text('{"not": "a list"}')
    app, _ = await make_app()
    summary = await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    assert len(summary.errors) == 2
    assert any("help/2023-11-15.json" in e and "invalid JSON" in e for e in summary.errors)
    assert any("help/2023-11-16.json" in e and "expected a list" in e for e in summary.errors)
    assert (await app.store.counts())["messages"] == 8


async def test_damaged_zip_member_is_reported_and_the_rest_imported(make_app, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export")
    target = tmp_path / "export.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    damaged = "mods/2023-11-14.json"  # the one private message
    with zipfile.ZipFile(target) as zf:
        info = zf.getinfo(damaged)
    data = bytearray(target.read_bytes())
    # Flip bytes inside the member's compressed data (after its 30-byte local header, name, extra).
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start, start + info.compress_size):
        data[i] ^= 0x5A
    target.write_bytes(bytes(data))
    app, _ = await make_app()
    summary = await import_slack_export(target, app.bus, progress=False)
    await app.bus.drain()
    assert len(summary.errors) == 1 and summary.errors[0].startswith(f"{damaged}: unreadable")
    assert (await app.store.counts())["messages"] == 7  # every other day file landed


async def test_reimport_leaves_the_same_counts(make_app, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export")
    app, _ = await make_app()
    await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    first = await app.store.counts()
    # A fresh bus has no memory of the first run: idempotency must come from the store's upserts.
    fresh = InProcessBus()
    Recorder(app.store).attach(fresh)
    again = await import_slack_export(folder, fresh, progress=False)
    await fresh.close()
    assert again.messages == 8
    assert await app.store.counts() == first


async def test_missing_or_broken_export_is_an_error_not_a_crash(make_app, tmp_path: Path) -> None:
    app, _ = await make_app()
    missing = await import_slack_export(tmp_path / "nope", app.bus, progress=False)
    assert missing.errors and "no such file" in missing.errors[0]
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    bad = await import_slack_export(broken, app.bus, progress=False)
    assert bad.errors and "not a zip" in bad.errors[0]


@pytest.mark.realdata
async def test_real_pythondev_export_matches_the_dataset_readme(make_app, shared_data: Path) -> None:
    app, _ = await make_app()
    summary = await import_slack_export(shared_data / "slack-pythondev-2019.zip", app.bus, progress=False)
    await app.bus.drain()
    assert summary.errors == [] and summary.messages == 17_545
    counts = await app.store.counts()
    assert counts["messages"] == 17_545 and counts["users"] == 916 and counts["threads"] == 1_659


async def test_dms_and_mpims_are_dm_visibility_with_members_as_access(make_app, tmp_path: Path) -> None:
    root = tmp_path / "export"
    root.mkdir()
    (root / "users.json").write_text(json.dumps([{"id": "U1", "team_id": "T9"}, {"id": "U2"}, {"id": "U3"}]))
    (root / "dms.json").write_text(json.dumps([{"id": "D1", "members": ["U1", "U2"]}]))
    (root / "mpims.json").write_text(
        json.dumps([{"id": "G7", "name": "mpdm-u1--u2--u3-1", "members": ["U1", "U2", "U3"]}])
    )
    (root / "D1").mkdir()
    (root / "D1" / "2023-11-14.json").write_text(
        json.dumps([{"user": "U1", "text": "psst", "ts": "1700000000.000001"}])
    )
    (root / "mpdm-u1--u2--u3-1").mkdir()
    (root / "mpdm-u1--u2--u3-1" / "2023-11-14.json").write_text(
        json.dumps([{"user": "U3", "text": "group", "ts": "1700000001.000001"}])
    )
    app, _ = await make_app()
    summary = await import_slack_export(root, app.bus, team_domain="acme", progress=False)
    await app.bus.drain()
    assert summary.errors == [] and summary.messages == 2 and summary.channels == 2
    dm = await app.store.get_channel("slack", "T9", "D1")
    assert dm is not None and dm.visibility == "dm"
    assert await app.store.readable_channel_ids("slack", "T9", "U3") == {"G7"}
    assert await app.store.readable_channel_ids("slack", "T9", "U2") == {"D1", "G7"}
    row = await app.store.get_message("slack", "T9", "D1:1700000000.000001")
    assert row is not None and row.permalink == "https://acme.slack.com/archives/D1/p1700000000000001"


async def test_redelivered_import_events_are_deduplicated_by_the_bus(make_app, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export")
    app, _ = await make_app()
    await import_slack_export(folder, app.bus, progress=False)
    await import_slack_export(folder, app.bus, progress=False)  # same events, same ids, same bus
    await app.bus.drain()
    assert app.bus.stats.duplicates >= 8
    assert (await app.store.counts())["messages"] == 8


def test_encrypted_or_unsupported_zip_members_are_read_errors_naming_the_file(tmp_path: Path) -> None:
    from bot.importers.slack_export import ExportReadError, ExportSource

    target = tmp_path / "export.zip"
    with zipfile.ZipFile(target, "w") as zf:
        zf.writestr("users.json", "[]")
        zf.writestr("help/2023-11-14.json", "[]")
        zf.writestr("help/2023-11-15.json", "[]")
    data = bytearray(target.read_bytes())
    with zipfile.ZipFile(target) as zf:
        encrypted, odd = zf.getinfo("help/2023-11-14.json"), zf.getinfo("help/2023-11-15.json")
    central = data.find(b"PK\x01\x02")
    entries = {}
    while central != -1:  # central directory entries, by name
        name_len = int.from_bytes(data[central + 28 : central + 30], "little")
        entries[bytes(data[central + 46 : central + 46 + name_len]).decode()] = central
        central = data.find(b"PK\x01\x02", central + 46)
    # The "encrypted" flag bit, in the local header and the central directory.
    data[encrypted.header_offset + 6] |= 1
    data[entries[encrypted.filename] + 8] |= 1
    # Compression method 9 (Deflate64), which zipfile cannot read.
    data[odd.header_offset + 8 : odd.header_offset + 10] = (9).to_bytes(2, "little")
    data[entries[odd.filename] + 10 : entries[odd.filename] + 12] = (9).to_bytes(2, "little")
    target.write_bytes(bytes(data))
    source = ExportSource(target)
    for name in ("help/2023-11-14.json", "help/2023-11-15.json"):
        with pytest.raises(ExportReadError, match=f"^{name}: unreadable"):
            source.read(name)
    assert source.json("users.json") == []
    source.close()


def write_small_export(
    root: Path, channels: list[dict], days: dict[str, list[dict]], *, team_id: str | None = "T9"
) -> Path:
    """An export with two members, the given ``channels.json`` and day files ``{folder/day: messages}``."""
    root.mkdir(parents=True, exist_ok=True)
    team = {"team_id": team_id} if team_id else {}
    (root / "users.json").write_text(json.dumps([{"id": "U1", **team}, {"id": "U2", **team}]))
    (root / "channels.json").write_text(json.dumps(channels))
    for name, messages in days.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(messages))
    return root


async def test_unrepresentable_ts_skips_the_message_not_the_import(make_app, tmp_path: Path) -> None:
    bad = [{"user": "U1", "text": f"bad {ts}", "ts": ts} for ts in ("inf", "1e20", "-1e20", "nan")]
    folder = write_small_export(
        tmp_path / "export",
        [{"id": "C1", "name": "general"}],
        {
            "general/2020-01-01.json": [*bad, {"user": "U1", "text": "ok", "ts": "1577836800.000100"}],
            "general/2020-01-02.json": [{"user": "U2", "text": "next day", "ts": "1577923200.000100"}],
        },
    )
    app, _ = await make_app()
    summary = await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    assert summary.errors == [] and summary.messages == 2 and summary.skipped == 4
    assert any("bad ts 'inf'" in w for w in summary.warnings)
    assert (await app.store.counts())["messages"] == 2


async def test_export_without_a_team_id_is_refused_unless_the_workspace_is_given(make_app, tmp_path: Path) -> None:
    folder = write_small_export(
        tmp_path / "acme-export (1)",
        [{"id": "C1", "name": "general"}],
        {"general/2020-01-01.json": [{"user": "U1", "text": "hi", "ts": "1577836800.000100"}]},
        team_id=None,
    )
    app, _ = await make_app()
    refused = await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    assert refused.messages == 0 and len(refused.errors) == 1 and "--workspace" in refused.errors[0]
    assert (await app.store.counts())["messages"] == 0
    ok = await import_slack_export(folder, app.bus, workspace_id="T5", progress=False)
    await app.bus.drain()
    assert ok.errors == [] and ok.messages == 1
    row = await app.store.get_message("slack", "T5", "C1:1577836800.000100")
    assert row is not None and row.permalink == "https://t5.slack.com/archives/C1/p1577836800000100"


async def test_a_path_that_is_not_an_export_is_an_error(make_app, tmp_path: Path) -> None:
    app, _ = await make_app()
    (tmp_path / "empty").mkdir()
    not_slack = tmp_path / "photos.zip"
    with zipfile.ZipFile(not_slack, "w") as zf:
        zf.writestr("readme.txt", "hi")
        zf.writestr("data/x.json", "[]")
    for path in (tmp_path / "empty", not_slack):
        summary = await import_slack_export(path, app.bus, progress=False)
        assert summary.messages == 0 and summary.errors and "not a Slack export" in summary.errors[0]


async def test_a_folder_holding_the_export_one_level_down_is_read(make_app, tmp_path: Path) -> None:
    write_export(tmp_path / "download" / "Acme Slack export")
    app, _ = await make_app()
    summary = await import_slack_export(tmp_path / "download", app.bus, progress=False)
    await app.bus.drain()
    assert summary.errors == [] and summary.messages == 8
    assert (await app.store.counts())["messages"] == 8


async def test_private_flags_inside_channels_json_are_respected(make_app, tmp_path: Path) -> None:
    folder = write_small_export(
        tmp_path / "export",
        [
            {"id": "C1", "name": "general", "members": ["U1", "U2"]},
            {"id": "G7", "name": "hr", "is_private": True, "members": ["U1"]},
            {"id": "G8", "name": "old-group", "is_group": True, "members": ["U1"]},
            {"id": "G9", "name": "mpdm-u1--u2-1", "is_mpim": True, "members": ["U1", "U2"]},
        ],
        {
            "hr/2020-01-01.json": [{"user": "U1", "text": "salaries", "ts": "1577836800.000100"}],
            "old-group/2020-01-01.json": [{"user": "U1", "text": "old", "ts": "1577836801.000100"}],
        },
    )
    app, _ = await make_app()
    summary = await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    assert summary.errors == [] and summary.messages == 2
    for channel_id, visibility in (("C1", "public"), ("G7", "private"), ("G8", "private"), ("G9", "dm")):
        row = await app.store.get_channel("slack", "T9", channel_id)
        assert row is not None and row.visibility == visibility, channel_id
    assert await app.store.readable_channel_ids("slack", "T9", "U2") == {"C1", "G9"}


async def test_reaction_users_given_as_a_string_are_ignored(make_app, tmp_path: Path) -> None:
    message = {
        "user": "U1",
        "text": "hi",
        "ts": "1577836800.000100",
        "reactions": [{"name": "tada", "users": "U2", "count": 1}, {"name": "eyes", "users": ["U2"]}],
    }
    folder = write_small_export(tmp_path / "export", [{"id": "C1", "name": "general"}], {"general/d.json": [message]})
    app, _ = await make_app()
    summary = await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    assert summary.messages == 1 and summary.reactions == 1 and summary.skipped == 0
    reactions = await app.store.reactions_for("slack", "T9", "C1:1577836800.000100")
    assert [(r.user_id, r.emoji) for r in reactions] == [("U2", "eyes")]


async def test_a_folder_listed_twice_is_imported_once(make_app, tmp_path: Path) -> None:
    folder = write_small_export(
        tmp_path / "export",
        [{"id": "C1", "name": "general"}, {"id": "C2", "name": "general"}],
        {"general/2020-01-01.json": [{"user": "U1", "text": "hi", "ts": "1577836800.000100"}]},
    )
    (folder / "groups.json").write_text(json.dumps([{"id": "G1", "name": "mods", "members": ["U1"]}]))
    (folder / "channels.json").write_text(
        json.dumps([{"id": "C1", "name": "general"}, {"id": "C2", "name": "general"}, {"id": "G1", "name": "mods"}])
    )
    app, _ = await make_app()
    summary = await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    assert summary.messages == 1 and summary.channels == 2
    assert sum("listed more than once" in w for w in summary.warnings) == 2
    assert (await app.store.counts())["messages"] == 1
    mods = await app.store.get_channel("slack", "T9", "G1")
    assert mods is not None and mods.visibility == "private"  # the more private listing wins


async def test_a_bad_edit_time_keeps_the_message_and_is_not_counted_skipped(make_app, tmp_path: Path) -> None:
    message = {"user": "U1", "text": "hi", "ts": "1577836800.000100", "edited": {"user": "U1", "ts": "1e20"}}
    folder = write_small_export(tmp_path / "export", [{"id": "C1", "name": "general"}], {"general/d.json": [message]})
    app, _ = await make_app()
    summary = await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    assert summary.messages == 1 and summary.skipped == 0
    assert any("edit ignored" in w for w in summary.warnings)
    row = await app.store.get_message("slack", "T9", "C1:1577836800.000100")
    assert row is not None and row.edited_ts is None


async def test_a_day_file_copied_under_a_second_date_is_counted_once(make_app, tmp_path: Path) -> None:
    """The summary reported every message twice (6 messages, 4 reactions; 3 and 2 stored), silently.
    A repeated ts is counted once and warned about; what the copy adds (a later edit, a reaction
    not seen yet) is still imported, and an older copy never brings back replaced text."""
    day = [
        {
            "user": "U1",
            "text": "How do I configure the frobnicator?",
            "ts": "1700000000.000100",
            "thread_ts": "1700000000.000100",
            "reactions": [{"name": "+1", "users": ["U2"], "count": 1}],
        },
        {"user": "U2", "text": "Set frob=1", "ts": "1700000060.000200", "thread_ts": "1700000000.000100"},
        {"user": "U2", "text": "edited", "ts": "1700000120.000300", "edited": {"user": "U2", "ts": "1700000200.0"}},
    ]
    copy = json.loads(json.dumps(day))
    copy[0]["reactions"][0]["users"].append("U1")  # one reaction more by the time of the copy
    copy[2].update(text="edited again", edited={"user": "U2", "ts": "1700000300.0"})
    older = json.loads(json.dumps(day))
    older[2].update(text="first words")
    del older[2]["edited"]
    folder = write_small_export(
        tmp_path / "export",
        [{"id": "C1", "name": "general"}],
        {"general/2023-11-14.json": day, "general/2023-11-15.json": copy, "general/2023-11-16.json": older},
    )
    app, _ = await make_app()
    summary = await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    counts = await app.store.counts()
    assert (summary.messages, summary.threads, summary.reactions) == (3, 1, 2)
    assert (counts["messages"], counts["threads"], counts["reactions"]) == (3, 1, 2)
    assert summary.skipped == 6 and summary.errors == []
    assert summary.warnings[:3] == [
        "general/2023-11-15.json[0]: skipped (ts '1700000000.000100' appears earlier in the channel; "
        "1 new reaction(s) imported)",
        "general/2023-11-15.json[1]: skipped (ts '1700000060.000200' appears earlier in the channel; "
        "nothing new in it)",
        "general/2023-11-15.json[2]: skipped (ts '1700000120.000300' appears earlier in the channel; "
        "its later edit imported)",
    ]
    edited = await app.store.get_message("slack", "T9", "C1:1700000120.000300")
    assert edited is not None and (edited.text, edited.edited_ts) == ("edited again", 1700000300.0)
    reactions = await app.store.reactions_for("slack", "T9", "C1:1700000000.000100")
    assert sorted(r.user_id for r in reactions) == ["U1", "U2"]
