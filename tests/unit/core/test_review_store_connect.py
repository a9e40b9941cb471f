"""A SQLite store that cannot be opened is one clear line and exit 2, with nothing after it.

``store.url`` naming a folder failed the connect as it should, but aiosqlite then queued the
shutdown of its connection thread and nobody waited for it: the event loop closed first, and the
thread printed two ``RuntimeError: Event loop is closed`` tracebacks under the clear message.
The traceback comes from a thread at interpreter exit, so only a real process shows it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("argv", [["audit"], ["run", "--no-demo"]])
def test_a_store_url_naming_a_folder_exits_without_a_thread_traceback(tmp_path: Path, argv: list[str]) -> None:
    folder = tmp_path / "somedir"
    folder.mkdir()
    env = {
        **os.environ,
        "GUILDHALL_CONFIG": os.devnull,
        "GUILDHALL_DATA_DIR": str(tmp_path / "data"),
        "GUILDHALL_BRAINS": "[]",
        "GUILDHALL_STORE__URL": f"sqlite:///{folder}",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f"cannot open the store at sqlite:///{folder}" in output
    assert "Event loop is closed" not in output
    assert "Traceback" not in output
