"""`/guildhall alerts-channel` without an argument shows the setting; changing it takes a channel or `here`.

Run bare, it used to move trend alerts (and the moderators' drafts, which follow them by default) to
the channel it was run in: a trap for an admin who only wanted to see where alerts go.
"""

from __future__ import annotations

from bot.events import CommandReply, Platform
from bot.testing import channel, command, make_message


async def alerts(app, adapter, text: str = "", **kwargs) -> str:
    await adapter.inject(command("guildhall alerts-channel", text, admin=True, **kwargs))
    await app.bus.drain()
    return adapter.of_type(CommandReply)[-1].text


async def setting(app) -> object:
    return await app.store.get_workspace_setting("console", "local", "alerts_channel")


async def test_without_an_argument_it_shows_the_setting_and_changes_nothing(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(make_message("hello", chan="mods"))
    reply = await alerts(app, adapter)
    assert "not posted" in reply and "/guildhall alerts-channel #channel" in reply and "here" in reply
    assert await setting(app) is None
    await alerts(app, adapter, "#mods")
    reply = await alerts(app, adapter, chan="general")
    assert "<#mods>" in reply and await setting(app) == "mods"


async def test_here_sets_the_channel_it_is_run_in(make_app) -> None:
    app, adapter = await make_app()
    assert await alerts(app, adapter, "here", chan="help") == "Trend alerts will be posted in <#help>."
    assert await setting(app) == "help"
    assert "Usage" in await alerts(app, adapter, "here and there")
    assert await setting(app) == "help"


async def test_here_in_a_forum_post_is_refused(make_app) -> None:
    app, adapter = await make_app()
    assert "text channel" in await alerts(app, adapter, "here", chan=channel("help", is_forum=True))
    assert await setting(app) is None


async def test_a_channel_named_here_is_still_reachable_by_mention(make_app) -> None:
    app, adapter = await make_app()
    reply = await alerts(app, adapter, "<#CHERE|here>", chan=channel("general", platform=Platform.CONSOLE))
    assert reply == "Trend alerts will be posted in <#CHERE>."
