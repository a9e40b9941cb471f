"""``/show``: citations and links in the console name something it can print (a stored message
and its thread), as far as the member playing may read it."""

from __future__ import annotations

import pytest

from adapters.console.normalize import ConsoleInputError
from adapters.console.render import render_action
from bot.events import Citation, SendEphemeral, SendMessage
from tests.unit.console.test_adapter import feed, make_console


async def test_show_prints_a_message_with_its_thread(make_app) -> None:
    app, console, out = await make_console(make_app)
    await feed(app, console, "/join #help", "how do I pin a dependency?", "/as maya", "/thread t-1 use a lock file")
    console.store = app.store
    start = len(out.getvalue())
    await feed(app, console, "/show t-2")
    shown = out.getvalue()[start:]
    assert "how do I pin a dependency?" in shown and "use a lock file" in shown
    assert shown.index("how do I pin") < shown.index("use a lock file")
    assert "you" in shown and "maya" in shown and "#help" in shown
    # The link a citation carries works too, and names the same thread.
    start = len(out.getvalue())
    await feed(app, console, "/show console://local/help/t-1")
    assert "how do I pin a dependency?" in out.getvalue()[start:]


async def test_show_keeps_to_what_the_member_may_read(make_app) -> None:
    app, console, out = await make_console(make_app)
    console.store = app.store
    await feed(app, console, "/join #mods", "the moderators' plan")
    await feed(app, console, "/as bob")
    with pytest.raises(ConsoleInputError, match="no message t-2 that bob can read"):
        await console.handle_line("/show t-2")
    with pytest.raises(ConsoleInputError, match="no message nope that bob can read"):
        await console.handle_line("/show nope")
    with pytest.raises(ConsoleInputError, match="usage: /show"):
        await console.handle_line("/show")
    assert "the moderators' plan" not in out.getvalue().split("You are now bob")[1]


def test_console_links_in_answers_name_the_show_command() -> None:
    from adapters.console.normalize import console_channel, member

    general = console_channel("general")
    answer = SendMessage(
        channel=general,
        text="Use a lock file [1].",
        citations=(Citation(1, "#help 2026-11-28", "console://local/help/demo-0152"),),
    )
    text = render_action(answer)
    assert "[1] #help 2026-11-28 — console://local/help/demo-0152 (/show demo-0152)" in text
    opened = SendEphemeral(
        channel=general, user=member("you"), text="Here is the thread: console://local/help/demo-0150"
    )
    assert "Here is the thread: console://local/help/demo-0150 (/show demo-0150)" in render_action(opened)
