"""Pasted lines made of many mention or word starts: printing and parsing them stays linear.

The console runs on the event loop, so a line that takes seconds to handle freezes the bot (answers,
schedules) meanwhile. A pasted 40,000-character line of ``<@`` took 25 s to echo, and a slash
command with 20,000 one-letter words 3 s to split.
"""

from __future__ import annotations

import io
import time

from adapters.console.normalize import MAX_MESSAGE_CHARS, console_channel, split_command
from adapters.console.render import render_action
from bot.events import SendMessage
from tests.unit.console.test_adapter import make_console

# Each is ~40 ms once matching is linear; the quadratic code took 3 s or more on each input.
BOUND_S = 1.5


async def test_a_pasted_line_of_mention_starts_is_echoed_at_once(make_app) -> None:
    app, console, _ = await make_console(make_app)
    out = io.StringIO()
    line = "<@" * (MAX_MESSAGE_CHARS // 2)
    started = time.perf_counter()
    await console.run_repl(io.StringIO(line + "\n<@U1|maya> and <@U2> said hi\n"), out)
    elapsed = time.perf_counter() - started
    await app.bus.drain()
    assert elapsed < BOUND_S, f"echoing the pasted line took {elapsed:.1f}s"
    stored = await app.store.get_message("console", "local", "t-1")
    assert stored is not None and stored.text == line
    assert "you: @maya and @U2 said hi  (id t-2)" in out.getvalue()  # real mentions still read as names


async def test_a_long_command_line_of_short_words_is_split_at_once(make_app) -> None:
    app, console, _ = await make_console(make_app)
    out = io.StringIO()
    line = "/nosuch " + "a " * ((MAX_MESSAGE_CHARS - 10) // 2)
    started = time.perf_counter()
    await console.run_repl(io.StringIO(line + "\n"), out)
    elapsed = time.perf_counter() - started
    await app.bus.drain()
    assert elapsed < BOUND_S, f"splitting the command took {elapsed:.1f}s"
    assert "Unknown command `/nosuch`" in out.getvalue()
    # The longest registered name still wins.
    assert split_command("guildhall config set x y", ["guildhall config", "ask"]) == ("guildhall config", "set x y")


def test_an_answer_of_channel_mention_starts_renders_at_once() -> None:
    text = "\n".join(["<#" * 999] * 40) + "\nsee <#C1|help> and <#python>"
    action = SendMessage(channel=console_channel("help"), text=text)
    started = time.perf_counter()
    shown = render_action(action)
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND_S, f"rendering the answer took {elapsed:.1f}s"
    assert shown.endswith("see #help and #python")
