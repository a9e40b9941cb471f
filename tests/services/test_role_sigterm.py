"""A scale-out process stops in order on SIGTERM (``docker stop``, a Kubernetes rollout), as
``guildhall run`` on one process does: before, a worker or gateway was killed where it stood, and
one stopped during start-up never exited (its store's thread kept the process alive)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.services.conftest import URL


@pytest.mark.parametrize(
    "when",
    [
        "guildhall worker running",  # serving
        "--role worker with SQLite",  # logged while the app is being built: the store is open
    ],
)
def test_a_worker_stops_in_order_on_sigterm(tmp_path: Path, prefix: str, when: str) -> None:
    env = {
        **os.environ,
        "GUILDHALL_BUS__KIND": "redis",
        "GUILDHALL_BUS__REDIS_URL": URL,
        "GUILDHALL_BUS__STREAM_PREFIX": prefix,
        "GUILDHALL_STORE__URL": f"sqlite:///{tmp_path}/guildhall.db",
        "GUILDHALL_DATA_DIR": str(tmp_path),
        "GUILDHALL_BRAINS": "[]",
        "GUILDHALL_LOG_LEVEL": "INFO",
    }
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from bot.cli import main; main()", "run", "--role", "worker"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=tmp_path,
        )
        try:
            deadline = time.monotonic() + 120
            while when not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert when in log.read_text(), log.read_text()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert proc.returncode == 0, text  # killed by the signal, it was -15
    assert "stopped" in text and "Traceback" not in text
