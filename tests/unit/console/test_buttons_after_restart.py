"""Buttons outlive a console session: a shadow-mode draft posted before a restart can still be
approved with ``/press N``, and ``/buttons`` lists what can be pressed."""

from __future__ import annotations

import io

import pytest

from adapters.console.adapter import ConsoleAdapter
from adapters.console.normalize import ConsoleInputError
from tests.unit.console.test_adapter import ToyBrain, feed, make_console


async def restarted(make_app, out: io.StringIO):
    """A new app and console on the same data_dir, as the next ``guildhall run`` makes."""
    app, _ = await make_app(extra_brains=[ToyBrain])
    console = ConsoleAdapter(
        app.settings,
        writer=out,
        command_names=lambda: [s.name for s in app.router.specs],
        clock=app.clock,
        echo=True,
        session_id="u",
    )
    app.add_adapter(console)
    await console.start()
    await app.bus.drain()
    return app, console


async def test_a_button_from_before_a_restart_can_be_pressed(make_app) -> None:
    app, first, out = await make_console(make_app)
    await feed(app, first, "/join #mods", "/vote")
    assert "[1] Yes  [2] No" in out.getvalue()
    again = io.StringIO()
    app, console = await restarted(make_app, again)
    await feed(app, console, "/press 2")
    (click,) = ToyBrain.clicks
    assert (click.action_id, click.value, click.channel.channel_id) == ("toy.no", "n", "mods")
    # New buttons get new numbers: [1] and [2] still mean the old ones.
    await feed(app, console, "/vote")
    assert "[3] Yes  [4] No" in again.getvalue()


async def test_buttons_lists_what_can_be_pressed(make_app) -> None:
    app, console, out = await make_console(make_app)
    await feed(app, console, "/vote", "/buttons")
    listing = out.getvalue().split("/vote")[-1]
    assert "[1] Yes" in listing and "[2] No" in listing and "#general" in listing
    with pytest.raises(ConsoleInputError, match="/buttons"):
        await console.handle_line("/press 99")
