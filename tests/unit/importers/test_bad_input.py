"""Importers on hostile or damaged exports: a bad message is skipped with a warning, a bad file is
named in one readable line, and neither stops the rest of the import."""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.importers.discord_export import import_discord_export
from bot.importers.slack_export import import_slack_export
from tests.unit.importers.test_discord_export import ANA, BOB, export, msg
from tests.unit.importers.test_slack_export import write_export, write_small_export

BIG_INT = "9" * 5000  # beyond Python's 4300-digit limit for int(str)
DEEP = "[" * 100_000 + "]" * 100_000  # deeper than the parser's recursion limit


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GUILDHALL_STORE__URL", f"sqlite:///{tmp_path}/gh.db")
    monkeypatch.setenv("GUILDHALL_BRAINS", "[]")
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def _wrong_typed_files(folder: Path) -> list[Path]:
    """One file per wrong-typed field (each also holds a good message), then a good file."""
    channel = {"id": "C1", "name": "general"}
    reaction = {"emoji": {"name": "x"}, "users": [ANA]}
    cases = {
        "attach_int": {"attachments": 5},
        "react_int": {"reactions": 7},
        "react_users_int": {"reactions": [{"emoji": {"name": "x"}, "users": 3}, reaction]},
    }
    files = [
        _write(
            folder / f"{case}.json",
            export(channel, [msg(f"{case}-1", "00", ANA, "fine"), msg(f"{case}-2", "01", BOB, "odd", **extra)]),
        )
        for case, extra in cases.items()
    ]
    thread = {"id": "T1", "type": "GuildPublicThread", "name": "t", "categoryId": "C1"}
    listed = msg("t-1", "00", ANA, "typed as a list")
    listed["type"] = ["Default"]
    files.append(_write(folder / "thread_type_list.json", export(thread, [listed, msg("t-2", "01", BOB, "fine")])))
    files.append(_write(folder / "good.json", export({"id": "C2", "name": "random"}, [msg("g-1", "00", ANA, "hi")])))
    return files


async def test_discord_wrong_typed_fields_cost_at_most_their_message(make_app, tmp_path: Path) -> None:
    """An int as attachments, reactions or a reaction's users is ignored (the message is kept); a list
    as a message type skips that message; every later file is still imported."""
    app, _ = await make_app()
    summary = await import_discord_export(_wrong_typed_files(tmp_path), app.bus, progress=False)
    await app.bus.drain()
    assert summary.errors == [] and summary.files == 5
    # 3 files x 2 messages, the thread's one good message, the good file's one.
    assert summary.messages == 8 and summary.skipped == 1 and summary.reactions == 1
    assert "thread_type_list.json[0]: skipped (type is not text)" in summary.warnings
    assert "attach_int.json: message attach_int-2: attachments ignored (not a list)" in summary.warnings
    assert "react_int.json: message react_int-2: reactions ignored (not a list)" in summary.warnings
    assert any("react_users_int-2: reaction 'x' ignored (users is not a list)" in w for w in summary.warnings)
    counts = await app.store.counts()
    assert counts["messages"] == 8 and counts["reactions"] == 1


def test_discord_wrong_typed_fields_through_the_command(env: Path) -> None:
    result = CliRunner().invoke(cli, ["import", "discord-export", *map(str, _wrong_typed_files(env)), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "imported 8 messages" in result.output and "from 5 files" in result.output


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (f'{{"guild": {{"id": "G1"}}, "channel": {{"id": "C9"}}, "messages": [], "n": {BIG_INT}}}', "4300 digits"),
        (DEEP, "nested too deeply"),
    ],
    ids=["bigint", "deep"],
)
async def test_discord_unparseable_json_is_a_bad_file(make_app, tmp_path: Path, body: str, reason: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(body)
    good = _write(tmp_path / "good.json", export({"id": "C1", "name": "general"}, [msg("1", "00", ANA, "hello")]))
    app, _ = await make_app()
    summary = await import_discord_export([bad, good], app.bus, progress=False)
    await app.bus.drain()
    assert len(summary.errors) == 1 and summary.errors[0].startswith("bad.json: invalid JSON (")
    assert reason in summary.errors[0] and "\n" not in summary.errors[0]
    assert (await app.store.counts())["messages"] == 1


@pytest.mark.parametrize(("body", "reason"), [(f"[{BIG_INT}]", "4300 digits"), (DEEP, "nested too deeply")])
@pytest.mark.parametrize("target", ["help/2023-11-15.json", "users.json"])
async def test_slack_unparseable_json_is_a_bad_file(
    make_app, tmp_path: Path, body: str, reason: str, target: str
) -> None:
    folder = write_export(tmp_path / "export")
    (folder / target).write_text(body)
    app, _ = await make_app()
    summary = await import_slack_export(folder, app.bus, progress=False, workspace_id="T9")
    await app.bus.drain()
    assert len(summary.errors) == 1 and summary.errors[0].startswith(f"{target}: invalid JSON (")
    assert reason in summary.errors[0] and "\n" not in summary.errors[0]
    assert summary.messages > 0 and (await app.store.counts())["messages"] == summary.messages


async def test_a_zip_member_with_a_garbled_header_is_one_readable_line(make_app, tmp_path: Path) -> None:
    """zipfile quotes a damaged local header's raw bytes (kilobytes of them) in its error."""
    folder = write_export(tmp_path / "export")
    target = tmp_path / "export.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    damaged = "mods/2023-11-14.json"
    with zipfile.ZipFile(target) as zf:
        info = zf.getinfo(damaged)
    data = bytearray(target.read_bytes())
    # The local header's name length (offset 26): 3000, so zipfile reads 3000 bytes as the name.
    struct.pack_into("<H", data, info.header_offset + 26, 3000)
    target.write_bytes(bytes(data))
    app, _ = await make_app()
    summary = await import_slack_export(target, app.bus, progress=False)
    await app.bus.drain()
    assert len(summary.errors) == 1
    error = summary.errors[0]
    assert error.startswith(f"{damaged}: unreadable (") and "differ" in error
    assert len(error) < 200 and "\\x" not in error and "\n" not in error
    assert (await app.store.counts())["messages"] == 7


def _central_directory(data: bytes) -> dict[str, int]:
    """Offsets of a zip's central directory entries, by member name."""
    entries = {}
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = int.from_bytes(data[central + 28 : central + 30], "little")
        entries[bytes(data[central + 46 : central + 46 + name_len]).decode()] = central
        central = data.find(b"PK\x01\x02", central + 46)
    return entries


def _version_16_7(data: bytearray, entry: int) -> None:
    """ "Version needed to extract" 16.7, beyond zipfile's: NotImplementedError when the zip opens."""
    data[entry + 6 : entry + 8] = (167).to_bytes(2, "little")


def _latin1_name_flagged_utf8(data: bytearray, entry: int) -> None:
    """The UTF-8 name flag on a name holding a Latin-1 byte: UnicodeDecodeError when the zip opens."""
    data[entry + 9] |= 0x08  # bit 11 of the flags (0x800), in their second byte
    data[entry + 46] = 0xE9


@pytest.mark.parametrize("damage", [_version_16_7, _latin1_name_flagged_utf8], ids=["version", "name"])
async def test_a_zip_with_a_damaged_central_directory_is_one_clear_error(make_app, tmp_path: Path, damage) -> None:
    """zipfile raises more than BadZipFile while reading the central directory: each is the zip's error."""
    folder = write_export(tmp_path / "export")
    target = tmp_path / "export.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    data = bytearray(target.read_bytes())
    damage(data, _central_directory(bytes(data))["users.json"])
    target.write_bytes(bytes(data))
    app, _ = await make_app()
    summary = await import_slack_export(target, app.bus, progress=False)
    await app.bus.drain()
    assert summary.messages == 0 and len(summary.errors) == 1
    assert summary.errors[0].startswith(f"{target}: not a zip file or folder (") and "\n" not in summary.errors[0]


async def test_a_path_too_long_for_the_file_system_is_one_clear_error(make_app, tmp_path: Path) -> None:
    app, _ = await make_app()
    summary = await import_slack_export(tmp_path / ("a" * 300 + ".zip"), app.bus, progress=False)
    assert summary.messages == 0 and len(summary.errors) == 1
    assert summary.errors[0].endswith(": can't be read (File name too long)")


def test_a_named_pipe_is_refused_not_waited_on(env: Path) -> None:
    """Reading a FIFO waits for a writer that never comes: it is not an export file."""
    pipe = env / "general.json"
    os.mkfifo(pipe)
    good = _write(env / "good.json", export({"id": "C1", "name": "general"}, [msg("1", "00", ANA, "hello")]))
    result = CliRunner().invoke(cli, ["import", "discord-export", str(pipe), str(good), "--quiet", "--no-index"])
    assert result.exit_code == 1 and "general.json: not a regular file" in result.output
    assert "imported 1 messages" in result.output


async def test_a_discord_author_without_an_id_is_skipped_not_merged(make_app, tmp_path: Path) -> None:
    """Stored as author "" every such author would be one member (their messages, counts and access
    merged): such a message is skipped as one without an author is."""
    messages = [
        msg("1", "00", {"name": "ghost", "isBot": False}, "no id"),
        msg("2", "01", {"id": None, "name": "ghost2"}, "null id"),
        msg("3", "02", {"id": "", "name": "ghost3"}, "empty id"),
        msg("4", "03", ANA, "fine"),
    ]
    path = _write(tmp_path / "general.json", export({"id": "C1", "name": "general"}, messages))
    app, _ = await make_app()
    summary = await import_discord_export([path], app.bus, progress=False)
    await app.bus.drain()
    assert summary.messages == 1 and summary.skipped == 3
    assert "general.json[1]: skipped (message 2 has an author without an id)" in summary.warnings
    assert (await app.store.counts())["messages"] == 1
    assert await app.store.get_user("discord", "G1", "") is None


async def test_discord_times_no_time_zone_can_convert_skip_their_message(make_app, settings, tmp_path: Path) -> None:
    """Year 1 at +05:00 is before year 1 in UTC, year 9999 after the end of it in Tokyo: the activity
    brain's local day overflowed (the message never counted, a traceback in the log)."""
    messages = [
        msg("1", "00", ANA, "fine"),
        msg("2", "01", BOB, "dawn of time", timestamp="0001-01-01T00:00:00+05:00"),
        msg("3", "02", BOB, "end of time", timestamp="9999-12-31T23:00:00+00:00"),
        msg("4", "03", ANA, "edited at the end of time", timestampEdited="9999-12-31T23:00:00+00:00"),
    ]
    path = _write(tmp_path / "general.json", export({"id": "C1", "name": "general"}, messages))
    app, _ = await make_app(
        brains=["activity"], settings_override=settings.model_copy(update={"timezone": "Asia/Tokyo"})
    )
    summary = await import_discord_export([path], app.bus, progress=False)
    await app.bus.drain()
    assert app.bus.stats.failures == []
    assert summary.messages == 2 and summary.skipped == 2
    assert "general.json[1]: skipped (timestamp '0001-01-01T00:00:00+05:00' is out of range)" in summary.warnings
    assert any(w.startswith("general.json: message 4: edit ignored (timestamp") for w in summary.warnings)
    edited = await app.store.get_message("discord", "G1", "4")
    assert edited is not None and edited.edited_ts is None and (await app.store.counts())["messages"] == 2


async def test_slack_times_no_time_zone_can_convert_skip_their_message(make_app, settings, tmp_path: Path) -> None:
    bad = [
        {"user": "U2", "text": "end of time", "ts": "253402300000.000100"},  # 9999-12-31 23:46 UTC
        {"user": "U2", "text": "dawn of time", "ts": "-62135596000.000100"},  # 0001-01-01 UTC
    ]
    edited = {"user": "U1", "text": "ok", "ts": "1577836801.000100", "edited": {"ts": "253402300000.0"}}
    folder = write_small_export(
        tmp_path / "export",
        [{"id": "C1", "name": "general"}],
        {"general/2020-01-01.json": [*bad, {"user": "U1", "text": "ok", "ts": "1577836800.000100"}, edited]},
    )
    app, _ = await make_app(
        brains=["activity"], settings_override=settings.model_copy(update={"timezone": "Asia/Tokyo"})
    )
    summary = await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    assert app.bus.stats.failures == []
    assert summary.messages == 2 and summary.skipped == 2
    assert any("bad ts '253402300000.000100' (year 9999 is out of range)" in w for w in summary.warnings)
    assert any("edit ignored (bad ts '253402300000.0' (year 9999" in w for w in summary.warnings)
    assert (await app.store.counts())["messages"] == 2


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_lone_surrogate_in_an_id_does_not_lose_the_summary(env: Path, as_json: bool) -> None:
    """Half an emoji as a message id reaches the warnings: printing them crashed after the import
    was stored (exit 1, no summary). The id is shown escaped; the store holds it as U+FFFD."""
    messages = [
        msg("\ud800", "00", ANA, "hello"),
        msg("\ud800", "01", BOB, "again"),
        msg("\udfff", "02", BOB, 5),  # type: ignore[arg-type]
        msg("m4", "03", ANA, "fine"),
    ]
    path = env / "general.json"
    path.write_text(json.dumps(export({"id": "C1", "name": "general"}, messages)))
    result = CliRunner().invoke(
        cli, ["import", "discord-export", str(path), "--quiet", "--no-index", *(["--json"] if as_json else [])]
    )
    assert result.exit_code == 0, result.output
    if as_json:
        data = json.loads(result.output)
        assert data["messages"] == 2 and data["store"]["messages"] == 2
        warnings = "\n".join(data["warnings"])
    else:
        assert "imported 2 messages" in result.output
        warnings = result.output
    assert "message '\\ud800' appears earlier in the channel" in warnings
    assert "message '\\udfff' skipped (content is not text)" in warnings


async def test_slack_wrong_typed_reactions_or_block_parts_cost_only_that_part(make_app, tmp_path: Path) -> None:
    """``reactions`` as a number or true, a block's ``fields`` or ``elements`` as a number: the part is
    left out with a note, the message (and the rest of its blocks) imported."""
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "deploy *done*"}, "fields": 5}
    context = {"type": "context", "elements": 7}
    rich_list = {
        "type": "rich_text",
        "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "steps:"}]},
            {"type": "rich_text_list", "elements": 3},
        ],
    }
    messages = [
        {"user": "U1", "text": "five", "ts": "1577836800.000100", "reactions": 5},
        {"user": "U1", "text": "yes", "ts": "1577836801.000100", "reactions": True},
        {"user": "U2", "text": "", "ts": "1577836802.000100", "blocks": [section, context]},
        {"user": "U2", "text": "", "ts": "1577836803.000100", "blocks": [rich_list]},
    ]
    folder = write_small_export(tmp_path / "export", [{"id": "C1", "name": "general"}], {"general/d.json": messages})
    app, _ = await make_app()
    summary = await import_slack_export(folder, app.bus, progress=False)
    await app.bus.drain()
    assert summary.messages == 4 and summary.skipped == 0
    assert summary.warnings == [
        "general/d.json[0]: reactions ignored (not a list)",
        "general/d.json[1]: reactions ignored (not a list)",
        "general/d.json[2]: blocks[0].fields ignored (not a list)",
        "general/d.json[2]: blocks[1].elements ignored (not a list)",
        "general/d.json[3]: blocks[0].elements[1].elements ignored (not a list)",
    ]
    texts = {m.message_id: m.text for m in await app.store.messages_by_author("slack", "T9", "U2")}
    assert texts == {"C1:1577836802.000100": "deploy *done*", "C1:1577836803.000100": "steps:"}
