"""Pasted lines made of many mention or word starts are echoed, stored and parsed whole.

The console runs on the event loop, so a line that takes seconds to handle freezes the bot (answers,
schedules) meanwhile: a pasted 40,000-character line of ``<@`` took 25 s to echo, and a slash
command with 20,000 one-letter words 3 s to split. Speed is not asserted here (no timed unit tests:
the project measures speed in benchmarks); these pin what such lines come out as.
"""

from __future__ import annotations

import io

from adapters.console.normalize import MAX_MESSAGE_CHARS, console_channel, split_command
from adapters.console.render import render_action
from bot.events import SendMessage
from tests.unit.console.test_adapter import make_console


async def test_a_pasted_line_of_mention_starts_is_echoed_at_once(make_app) -> None:
    app, console, _ = await make_console(make_app)
    out = io.StringIO()
    line = "<@" * (MAX_MESSAGE_CHARS // 2)
    await console.run_repl(io.StringIO(line + "\n<@U1|maya> and <@U2> said hi\n"), out)
    await app.bus.drain()
    stored = await app.store.get_message("console", "local", "t-1")
    assert stored is not None and stored.text == line
    assert "you: @maya and @U2 said hi  (id t-2)" in out.getvalue()  # real mentions still read as names


async def test_a_long_command_line_of_short_words_is_split_at_once(make_app) -> None:
    app, console, _ = await make_console(make_app)
    out = io.StringIO()
    line = "/nosuch " + "a " * ((MAX_MESSAGE_CHARS - 10) // 2)
    await console.run_repl(io.StringIO(line + "\n"), out)
    await app.bus.drain()
    assert "Unknown command `/nosuch`" in out.getvalue()
    # The longest registered name still wins.
    assert split_command("guildhall config set x y", ["guildhall config", "ask"]) == ("guildhall config", "set x y")


def test_an_answer_of_channel_mention_starts_renders_at_once() -> None:
    text = "\n".join(["<#" * 999] * 40) + "\nsee <#C1|help> and <#python>"
    action = SendMessage(channel=console_channel("help"), text=text)
    shown = render_action(action)
    assert shown.endswith("see #help and #python")
