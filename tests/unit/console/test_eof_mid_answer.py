"""Ctrl-D pressed while the bot answers, at a terminal with line editing.

readline takes the terminal out of canonical mode only while it reads a line; an end of input
typed while nothing reads (the REPL waiting for an answer) was dropped by the terminal, and the
session went on. The console keeps a read pending while it waits, so the EOF is seen, and it
quits once the answer is out.
"""

from __future__ import annotations

import asyncio
import io
from collections import deque
from typing import Any

import pytest

import adapters.console.adapter as console_adapter
from bot.brain import Brain, CommandResult, command
from bot.events import CommandInvoked


class FakeTerminal:
    """A terminal read by readline: a key typed while no line is being read is lost."""

    current: FakeTerminal | None = None

    def __init__(self, stream: Any, *, words: Any = None) -> None:
        self.prompt = ""
        self.lines: deque[str] = deque(["/slow\n"])
        self.reading = asyncio.Event()
        self.dropped: list[str] = []
        self._waiter: asyncio.Future[str] | None = None
        FakeTerminal.current = self

    async def readline(self) -> str:
        if self.lines:
            return self.lines.popleft()
        self._waiter = asyncio.get_running_loop().create_future()
        self.reading.set()
        try:
            return await self._waiter
        finally:
            self._waiter = None
            self.reading.clear()

    def press_ctrl_d(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result("")
        else:
            self.dropped.append("^D")

    def pending_text(self) -> str:
        return ""

    def restore_terminal(self) -> None:
        pass


class SlowBrain(Brain):
    """Answers /slow after the operator pressed Ctrl-D (give the console a moment to be reading)."""

    name = "slow"

    @command("slow", description="a slow answer")
    async def slow(self, cmd: CommandInvoked) -> CommandResult:
        terminal = FakeTerminal.current
        assert terminal is not None
        try:
            await asyncio.wait_for(terminal.reading.wait(), 1.0)
        except TimeoutError:
            pass
        terminal.press_ctrl_d()
        return CommandResult("the slow answer")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_ctrl_d_while_the_bot_answers_quits_after_the_answer(make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_adapter, "can_edit_lines", lambda reader, writer: True)
    monkeypatch.setattr(console_adapter, "TerminalLineReader", FakeTerminal)
    app, _ = await make_app(extra_brains=[SlowBrain])
    console = console_adapter.ConsoleAdapter(
        app.settings, command_names=lambda: [s.name for s in app.router.specs], clock=app.clock, session_id="t"
    )
    app.add_adapter(console)
    out = Tty()
    await asyncio.wait_for(console.run_repl(Tty(), out), 10)
    text = out.getvalue()
    assert FakeTerminal.current is not None and FakeTerminal.current.dropped == []
    assert "the slow answer" in text and text.rstrip().endswith("bye")
    assert text.index("the slow answer") < text.rindex("bye")
