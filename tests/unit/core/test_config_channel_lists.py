"""`/guildhall config set` of a channel list refuses channels it does not know, and changes nothing.

`/guildhall config set qa_help_channels #nope` replaced ["help"] with ["nope"] with only a note.
"""

from __future__ import annotations

from bot.events import CommandReply
from bot.testing import command, make_message


async def config(app, adapter, text: str) -> str:
    await adapter.inject(command("guildhall config", text, admin=True))
    await app.bus.drain()
    return adapter.of_type(CommandReply)[-1].text


async def test_an_unknown_channel_name_is_refused_and_the_list_kept(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(make_message("hello", chan="help"))
    await app.bus.drain()  # recorded first: the recorder and the commands run on separate queues
    assert (await config(app, adapter, "set qa_help_channels #help")).startswith('`qa_help_channels` is now ["help"]')
    reply = await config(app, adapter, "set qa_help_channels #nope")
    assert reply.startswith("Not changed:") and "#nope" in reply
    assert await app.store.get_workspace_setting("console", "local", "qa_help_channels") == ["help"]
    reply = await config(app, adapter, "set qa_help_channels #help, nope, #nada")
    assert reply.startswith("Not changed:") and "#nope" in reply and "#nada" in reply
    assert await app.store.get_workspace_setting("console", "local", "qa_help_channels") == ["help"]


async def test_a_channel_the_platform_picked_is_taken_as_given(make_app) -> None:
    app, adapter = await make_app()
    reply = await config(app, adapter, "set shadow_channels <#CNEW|new-help>")
    assert reply == '`shadow_channels` is now ["CNEW"].'


async def test_a_denied_channel_may_be_named_before_it_is_seen(make_app) -> None:
    # Keeping a channel out of answers must work before the bot is let in: noted, not refused.
    app, adapter = await make_app()
    reply = await config(app, adapter, "set deny_channels #hr-private")
    assert reply.startswith('`deny_channels` is now ["hr-private"].') and "Note: I don't know #hr-private" in reply
