"""Console buttons and privacy: ``/press`` clicks only what ``/buttons`` lists (buttons of channels the
member reads), and ``/forget-me`` drops the member's buttons from ``data_dir/console-buttons.json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.console.adapter import ConsoleAdapter
from adapters.console.buttons import FILE_NAME, FORMAT
from adapters.console.normalize import ConsoleInputError
from bot.app import GuildhallApp
from tests.unit.console.test_adapter import ToyBrain, feed, make_console


def _kept(app: GuildhallApp) -> list[dict[str, object]]:
    data = json.loads((Path(app.settings.data_dir) / FILE_NAME).read_text(encoding="utf-8"))
    return list(data["buttons"])


async def _console(make_app) -> tuple[GuildhallApp, ConsoleAdapter]:
    app, console, _ = await make_console(make_app)
    console.store = app.store
    return app, console


async def test_press_refuses_a_button_of_another_members_dm(make_app) -> None:
    app, console = await _console(make_app)
    await feed(app, console, "/as alice", "/dm", "/vote", "/as bob", "/join #general")
    with pytest.raises(ConsoleInputError, match="/buttons"):
        await console.handle_line("/press 1")
    await app.bus.drain()
    assert ToyBrain.clicks == []


async def test_press_refuses_a_button_of_a_private_channel_the_member_does_not_read(make_app) -> None:
    app, console = await _console(make_app)
    await feed(app, console, "/join #mods", "/vote", "/as bob", "/join #general")
    with pytest.raises(ConsoleInputError, match="/buttons"):
        await console.handle_line("/press 2")
    await app.bus.drain()
    assert ToyBrain.clicks == []


async def test_press_still_clicks_a_readable_button(make_app) -> None:
    app, console = await _console(make_app)
    await feed(app, console, "/as alice", "/dm", "/vote", "/press 2", "/join #general", "/as bob", "/vote", "/press 3")
    assert [(c.user.user_id, c.channel.channel_id, c.value) for c in ToyBrain.clicks] == [
        ("alice", "dm-alice", "n"),
        ("bob", "general", "y"),
    ]


async def test_forget_me_drops_the_members_buttons_from_the_file(make_app) -> None:
    app, console = await _console(make_app)
    await feed(app, console, "/as bob", "/dm", "/vote", "/as alice", "/dm", "/vote")
    assert {b["channel_id"] for b in _kept(app)} == {"dm-bob", "dm-alice"}
    await feed(app, console, "/forget-me confirm")
    assert {b["channel_id"] for b in _kept(app)} == {"dm-bob"}  # bob's stay
    with pytest.raises(ConsoleInputError, match="/buttons"):
        await console.handle_line("/press 3")


async def test_the_forget_me_button_drops_them_too(make_app) -> None:
    app, console = await _console(make_app)
    await feed(app, console, "/as alice", "/dm", "/vote", "/forget-me")
    assert any(b["value"] == "confirm" for b in _kept(app))
    await feed(app, console, "/press 3")  # "Yes, forget me"
    assert _kept(app) == []


async def test_buttons_of_members_forgotten_elsewhere_are_dropped_at_start(make_app) -> None:
    """``guildhall privacy forget`` (another process) marks the member in the store: the buttons file
    is pruned when the console next starts."""
    app, console = await _console(make_app)
    path = Path(app.settings.data_dir) / FILE_NAME
    entry = {"action_id": "toy.yes", "label": "Yes", "message_id": "m", "ts": 0.0}
    buttons = [
        {**entry, "number": 1, "value": "y", "channel_id": "dm-carol"},
        {**entry, "number": 2, "value": "up:carol", "channel_id": "general"},  # the value names her
        {**entry, "number": 3, "value": "y", "channel_id": "dm-bob"},
    ]
    path.write_text(json.dumps({"format": FORMAT, "next": 4, "buttons": buttons}), encoding="utf-8")
    await app.store.set_member_setting("console", "local", "carol", "forgotten", True)
    await console.start()  # as a restart does: the file is read again
    await app.bus.drain()
    assert [b["number"] for b in _kept(app)] == [3]
