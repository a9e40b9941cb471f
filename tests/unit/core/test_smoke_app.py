"""The app wires recorder, router and core commands."""

from bot.events import CommandReply
from bot.testing import command, make_message


async def test_message_is_stored_once_and_help_answers(make_app) -> None:
    app, adapter = await make_app()
    msg = make_message("how do I connect the bot to Slack?")
    assert await adapter.inject(msg) is True
    assert await adapter.inject(msg) is False  # redelivery dropped
    await adapter.inject(command("help"))
    await app.bus.drain()
    counts = await app.store.counts()
    assert counts["messages"] == 1
    replies = adapter.of_type(CommandReply)
    assert replies and "/forget-me" in replies[0].text
