"""``guildhall privacy export --out`` to a place it cannot write is one line, not a traceback, and
the audit log records only exports that were written (it recorded the failed ones too)."""

from __future__ import annotations

import asyncio
import errno
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.unit.core.test_admin_cli import _seed


def exports(runner: CliRunner) -> int:
    """How many exports the audit log records."""
    res = runner.invoke(app, ["audit", "--json"])
    assert res.exit_code == 0, res.output
    return sum(1 for entry in json.loads(res.output) if entry["action"] == "privacy-export")


def words(output: str) -> str:
    """An error message that a box may wrap, as one line."""
    return " ".join(w for w in output.split() if w not in {"│", "╭", "╰"})


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/dir/ana.json", "there is no folder"),
        (".", "is a folder; name the file to write"),
        ("x" * 300 + ".json", "File name too long"),
    ],
)
def test_an_out_path_that_cannot_be_written_is_refused_before_the_export(
    db_env: str, tmp_path: Path, where: str, message: str
) -> None:
    asyncio.run(_seed(db_env))
    runner = CliRunner()
    res = runner.invoke(app, ["privacy", "export", "--user", "ana", "--out", str(tmp_path / where)])
    assert res.exit_code == 2 and message in words(res.output), res.output
    assert exports(runner) == 0


def test_a_write_that_fails_is_one_line_and_not_audited(
    db_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_seed(db_env))
    runner = CliRunner()

    def disk_full(self: Path, *args: object, **kwargs: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "ana.json"
    with monkeypatch.context() as patched:
        patched.setattr(Path, "write_text", disk_full)
        res = runner.invoke(app, ["privacy", "export", "--user", "ana", "--out", str(out)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert f"error: cannot write {out}: No space left on device; no export was made" in res.stderr
    assert exports(runner) == 0
    res = runner.invoke(app, ["privacy", "export", "--user", "ana", "--out", str(out)])
    assert res.exit_code == 0 and json.loads(out.read_text())["messages"][0]["text"] == "ana's words"
    assert exports(runner) == 1
