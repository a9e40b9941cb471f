"""A line longer than a message may be is cut, and the console says so (it used to cut a pasted
100,000-character message to 40,000 without a word)."""

from __future__ import annotations

import io

from adapters.console.normalize import MAX_MESSAGE_CHARS, clean_line
from tests.unit.console.test_adapter import make_console


def test_clean_line_says_whether_it_cut() -> None:
    assert clean_line("x" * MAX_MESSAGE_CHARS + "\n") == ("x" * MAX_MESSAGE_CHARS, False)
    # Control characters go before counting: a line that fits once cleaned is not cut.
    assert clean_line("\x1b" * 10 + "x" * MAX_MESSAGE_CHARS) == ("x" * MAX_MESSAGE_CHARS, False)
    assert clean_line("x" * 100_000) == ("x" * MAX_MESSAGE_CHARS, True)


async def test_a_message_cut_to_the_limit_is_reported_and_the_rest_stored(make_app) -> None:
    app, console, _ = await make_console(make_app)
    out = io.StringIO()
    await console.run_repl(io.StringIO("y" * 100_000 + "\nshort one\n"), out)
    await app.bus.drain()
    lines = out.getvalue().splitlines()
    assert lines.count("! message cut to 40,000 characters (the rest was dropped)") == 1
    stored = await app.store.get_message("console", "local", "t-1")
    assert stored is not None and stored.text == "y" * MAX_MESSAGE_CHARS
    short = await app.store.get_message("console", "local", "t-2")
    assert short is not None and short.text == "short one"


async def test_a_line_that_fits_gets_no_notice(make_app) -> None:
    app, console, _ = await make_console(make_app)
    out = io.StringIO()
    await console.run_repl(io.StringIO("z" * MAX_MESSAGE_CHARS + "\n"), out)
    await app.bus.drain()
    assert "message cut" not in out.getvalue()
    stored = await app.store.get_message("console", "local", "t-1")
    assert stored is not None and stored.text == "z" * MAX_MESSAGE_CHARS
