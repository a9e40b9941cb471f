"""On/off settings take ``off`` in ``/guildhall config set``: it is their value, not "none"."""

from __future__ import annotations

from typing import Any

from bot.core_brain import CONFIG_KEYS
from bot.events import CommandReply
from bot.testing import command

SWITCHES = sorted(key for key, kind in CONFIG_KEYS.items() if kind == "bool")


async def config(app: Any, adapter: Any, text: str) -> str:
    await adapter.inject(command("guildhall config", text, admin=True))
    await app.bus.drain()
    return str(adapter.of_type(CommandReply)[-1].text)


async def test_every_switch_turns_on_and_off(make_app: Any) -> None:
    assert "digest_default_on" in SWITCHES
    app, adapter = await make_app()
    for key in SWITCHES:
        for word, value in (("on", True), ("off", False), ("OFF", False), ("yes", True), ("false", False)):
            assert await config(app, adapter, f"set {key} {word}") == f"`{key}` is now {str(value).lower()}."
            assert await app.store.get_workspace_setting("console", "local", key) is value
        # "none" is no switch position: refused without a change (the last value above stays).
        assert await config(app, adapter, f"set {key} none") == f"Not changed: {key} expects on/off."
        assert await app.store.get_workspace_setting("console", "local", key) is False
