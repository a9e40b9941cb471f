"""`/forget-me` with an argument it does not know names it instead of asking again."""

from __future__ import annotations

from bot.events import CommandReply
from bot.testing import command


async def test_an_unknown_argument_is_named(make_app) -> None:
    app, adapter = await make_app()
    await adapter.inject(command("forget-me", "now", author="bob"))
    await app.bus.drain()
    reply = adapter.of_type(CommandReply)[-1]
    assert "`now`" in reply.text and "/forget-me confirm" in reply.text
    assert not reply.buttons  # no erasure offered on a typo
    await adapter.inject(command("forget-me", "", author="bob"))
    await app.bus.drain()
    assert adapter.of_type(CommandReply)[-1].buttons  # the bare command still asks for confirmation
