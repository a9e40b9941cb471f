"""What a newcomer does at a real terminal: editing keys, Ctrl-D, Ctrl-C, and typed text quoted back."""

from __future__ import annotations

import asyncio
import io

import pytest

from adapters.console.adapter import KEYS_NOTICE
from adapters.console.normalize import strip_key_sequences
from tests.unit.console.test_adapter import feed, make_console


class TerminalInput(io.StringIO):
    """Typed input as a terminal gives it: the console shows a prompt and the terminal echoes."""

    def isatty(self) -> bool:
        return True


class BlockedInput:
    """An async reader that waits forever, like an operator who has not typed yet."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()

    async def readline(self) -> str:
        self.waiting.set()
        await asyncio.Event().wait()
        return ""


def test_editing_keys_are_recognised_and_other_escapes_are_not() -> None:
    assert strip_key_sequences("\x1b[A\x1b[B\x1bOD\x1b[1;5C\x1b[3~\x1b[H\n") == ("\n", True)
    # A pasted screen-clearing sequence is not a key: it only loses its ESC later, as before.
    assert strip_key_sequences("a \x1b[2J b") == ("a \x1b[2J b", False)


async def test_arrow_keys_then_enter_post_nothing_and_the_console_says_why(make_app) -> None:
    # Up then Enter, the reflex for "repeat my last line", used to post the message "[A".
    app, console, _ = await make_console(make_app)
    out = io.StringIO()
    await console.run_repl(io.StringIO("\x1b[A\nhel\x1b[D\x1b[Dlo\n\x1b[B\n"), out)
    await app.bus.drain()
    rows = await app.store.channel_messages("console", "local", "general")
    assert [r.text for r in rows] == ["hello"]
    assert out.getvalue().splitlines().count(KEYS_NOTICE) == 1


async def test_quoted_input_in_confirmations_cannot_reorder_the_screen(make_app) -> None:
    app, console, out = await make_console(make_app)
    await feed(app, console, "/react t-1 \u202ebad")
    assert "reacted :bad: to t-1." in out.getvalue()
    assert "\u202e" not in out.getvalue()


async def test_end_of_input_at_a_terminal_starts_a_new_line(make_app) -> None:
    # Ctrl-D ends a line without the newline Enter echoes: "bye" and the receipt of a half-typed
    # line used to be glued to the prompt ("#general you> bye").
    app, console, _ = await make_console(make_app)
    out = io.StringIO()
    await console.run_repl(TerminalInput("half a line"), out)
    await app.bus.drain()
    text = out.getvalue()
    assert "#general you> \n[#general] you: half a line" in text
    assert text.endswith("#general you> \nbye\n")


async def test_ctrl_c_at_the_prompt_says_the_console_is_stopping(make_app) -> None:
    _app, console, _ = await make_console(make_app)
    out = io.StringIO()
    reader = BlockedInput()
    repl = asyncio.create_task(console.run_repl(reader, out))
    await reader.waiting.wait()
    repl.cancel()
    with pytest.raises(asyncio.CancelledError):
        await repl
    assert out.getvalue().endswith("stopping…\n")
