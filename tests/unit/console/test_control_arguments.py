"""Console controls say what they did, and only that: no confirmation of a delete that deleted
nothing, no extra word silently dropped; a transcript through a pipe shows each command typed."""

from __future__ import annotations

import io

import pytest

from adapters.console.normalize import ConsoleInputError
from tests.unit.console.test_adapter import feed, make_console


async def test_deleting_an_unknown_message_says_there_is_none(make_app) -> None:
    app, console, out = await make_console(make_app)
    console.store = app.store
    with pytest.raises(ConsoleInputError, match="no message nonexistent-id"):
        await console.handle_line("/delete nonexistent-id")
    assert "Deleted nonexistent-id" not in out.getvalue()
    await feed(app, console, "a typo", "/delete t-1")
    assert "Deleted t-1." in out.getvalue()
    row = await app.store.get_message("console", "local", "t-1")
    assert row is not None and row.deleted
    with pytest.raises(ConsoleInputError, match="already deleted"):
        await console.handle_line("/delete t-1")


async def test_join_with_an_extra_word_is_a_usage_error(make_app) -> None:
    _app, console, _ = await make_console(make_app)
    with pytest.raises(ConsoleInputError, match="usage: /join #channel"):
        await console.handle_line("/join general extra")
    assert console.channel.channel_id == "general"
    with pytest.raises(ConsoleInputError, match="usage: /join #channel"):
        await console.handle_line("/join #help now")
    assert console.channel.channel_id == "general"


async def test_a_piped_transcript_shows_each_command_before_its_reply(make_app) -> None:
    app, console, _ = await make_console(make_app)
    console._echo = None  # decided by the output, as `guildhall run` does
    out = io.StringIO()  # not a terminal
    await console.run_repl(io.StringIO("/vote\n/chart\n/press 1\n"), out)
    await app.bus.drain()
    text = out.getvalue()
    assert "you → /vote" in text and "you → /chart" in text and "you → /press 1" in text
    assert text.index("you → /vote") < text.index("vote?") < text.index("you → /chart") < text.index("here")


async def test_a_terminal_does_not_repeat_what_was_just_typed(make_app) -> None:
    app, console, _ = await make_console(make_app)
    console._echo = None

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    await console.run_repl(io.StringIO("/vote\n"), out)
    await app.bus.drain()
    assert "you → /vote" not in out.getvalue() and "vote?" in out.getvalue()
