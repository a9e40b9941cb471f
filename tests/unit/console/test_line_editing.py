"""Line editing on a real pseudo-terminal: keys a newcomer presses at `make run`'s prompt."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.console.terminal import TerminalLineReader, can_edit_lines
from tests.unit.console.test_adapter import make_console

pytest.importorskip("readline")
pty = pytest.importorskip("pty")

ROOT = Path(__file__).resolve().parents[3]

READ_LINES = r"""
import asyncio, json, sys
from adapters.console.terminal import TerminalLineReader

async def main() -> None:
    reader = TerminalLineReader(sys.stdin, words=lambda: ["/ask", "/as", "/join"])
    lines = []
    while True:
        reader.prompt = "> "
        line = await reader.readline()
        if not line:
            break
        lines.append(line)
    with open(sys.argv[1], "w") as f:
        json.dump(lines, f)

asyncio.run(main())
"""

RESTORE = r"""
import asyncio, json, sys, termios, time
from adapters.console.terminal import TerminalLineReader

async def main() -> None:
    reader = TerminalLineReader(sys.stdin)
    reader.prompt = "> "
    pending = asyncio.ensure_future(reader.readline())
    fd = sys.stdin.fileno()
    deadline = time.monotonic() + 20
    while termios.tcgetattr(fd)[3] & termios.ICANON and time.monotonic() < deadline:
        await asyncio.sleep(0.02)  # wait until readline has switched the terminal to raw input
    editing = not termios.tcgetattr(fd)[3] & termios.ICANON
    reader.restore_terminal()  # what the console does when Ctrl-C stops it mid-line
    restored = bool(termios.tcgetattr(fd)[3] & termios.ICANON)
    with open(sys.argv[1], "w") as f:
        json.dump({"editing": editing, "restored": restored}, f)
    pending.cancel()

asyncio.run(main())
"""


class Terminal:
    """A child process on a pseudo-terminal, typed at like a person would."""

    def __init__(self, script: str, result: Path) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, str(result)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm"},
            start_new_session=True,
        )
        os.close(slave)
        self.screen = b""

    def read_until(self, marker: bytes, timeout: float = 30.0) -> None:
        """Collect output until ``marker`` appears after what was seen so far."""
        start = len(self.screen)
        deadline = time.monotonic() + timeout
        while marker not in self.screen[start:]:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} on the terminal; saw {self.screen[-300:]!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    break

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=30)
        finally:
            os.close(self.master)


def test_arrows_history_and_tab_edit_the_line_on_a_terminal(tmp_path: Path) -> None:
    result = tmp_path / "lines.json"
    term = Terminal(READ_LINES, result)
    term.read_until(b"> ")
    term.type("abc\x1b[DX\r")  # Left arrow, then insert: "abXc"
    term.read_until(b"> ")
    term.type("\x1b[A\x1b[H>\r")  # Up recalls "abXc", Home, insert at the start
    term.read_until(b"> ")
    term.type("/jo\t#help\r")  # Tab completes the command and its space
    term.read_until(b"> ")
    term.type("\x04")  # Ctrl-D on an empty line ends input
    assert term.close() == 0
    assert json.loads(result.read_text()) == ["abXc\n", ">abXc\n", "/join #help\n"]


def test_a_stop_mid_line_gives_the_terminal_back_as_it_was(tmp_path: Path) -> None:
    # readline turns off canonical mode while it reads; a console stopped by Ctrl-C while the
    # thread waits in input() must not leave the operator's shell without echo.
    result = tmp_path / "restore.json"
    term = Terminal(RESTORE, result)
    term.read_until(b"> ")
    term.close()
    assert json.loads(result.read_text()) == {"editing": True, "restored": True}


def test_only_the_process_terminal_gets_a_line_editor() -> None:
    assert not can_edit_lines(io.StringIO(), sys.stdout)
    assert not can_edit_lines(sys.stdin, io.StringIO())


async def test_an_answer_arriving_while_typing_is_printed_above_the_redrawn_line(make_app) -> None:
    _app, console, out = await make_console(make_app)
    terminal = TerminalLineReader(io.StringIO())
    terminal.pending_text = lambda: "half typ"  # type: ignore[method-assign]  # what readline holds
    console._terminal = terminal
    console._show_prompt()
    console.notice("an answer")
    assert out.getvalue().endswith("\r\x1b[Kan answer\n#general you> half typ")
    console.notice("another")  # the prompt is still the line editor's: redrawn again
    assert out.getvalue().endswith("\r\x1b[Kanother\n#general you> half typ")
