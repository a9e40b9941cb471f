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
from tests.unit.importers.test_slack_export import write_export

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
