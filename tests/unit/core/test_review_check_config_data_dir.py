"""``check-config`` refuses a ``data_dir`` that ``guildhall run`` could not create or write.

It said "configuration OK" for ``data_dir = "/dev/null/x"``, and ``run`` then stopped at once with
"cannot create data_dir". The check looks only: it creates nothing on disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app


def _check_config(monkeypatch: pytest.MonkeyPatch, data_dir: Path | str) -> tuple[int, dict[str, object]]:
    monkeypatch.setenv("GUILDHALL_CONFIG", os.devnull)
    monkeypatch.setenv("GUILDHALL_DATA_DIR", str(data_dir))
    result = CliRunner().invoke(app, ["check-config", "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_a_data_dir_under_a_file_is_a_configuration_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, report = _check_config(monkeypatch, blocker / "data")
    assert code == 2
    assert report["ok"] is False
    assert report["errors"] == [f"cannot create data_dir {blocker / 'data'}: {blocker} is not a folder"]
    assert blocker.read_text() == "not a folder"


def test_a_data_dir_under_dev_null_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    code, report = _check_config(monkeypatch, "/dev/null/x")
    assert code == 2
    assert report["errors"] == [f"cannot create data_dir /dev/null/x: {os.devnull} is not a folder"]


def test_a_data_dir_that_is_a_file_is_a_configuration_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    code, report = _check_config(monkeypatch, blocker)
    assert code == 2
    assert report["errors"] == [f"data_dir {blocker} is not a folder"]


def test_a_data_dir_yet_to_be_made_passes_and_is_not_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "not" / "yet"
    code, report = _check_config(monkeypatch, data_dir)
    assert code == 0, report
    assert report["ok"] is True
    assert not (tmp_path / "not").exists()  # a check creates nothing; `run` makes it


def test_an_existing_data_dir_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, report = _check_config(monkeypatch, tmp_path)
    assert code == 0, report
    assert report["ok"] is True


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_a_data_dir_in_a_read_only_folder_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        code, report = _check_config(monkeypatch, locked / "data")
    finally:
        locked.chmod(0o700)
    assert code == 2
    assert report["errors"] == [f"cannot create data_dir {locked / 'data'}: {locked} is not writable"]
