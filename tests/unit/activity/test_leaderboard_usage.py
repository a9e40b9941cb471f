"""``/leaderboard`` arguments: a bare unknown word is a period the command lacks, not a channel."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from bot.events import CommandReply
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, command
from tests.conftest import AppFactory

USAGE = "Usage: `/leaderboard [week|month|all] [#channel]`."


async def test_an_unknown_bare_word_gets_the_periods_and_how_to_name_a_channel(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    await adapter.inject(make_message("hello", chan="general"))
    await app.bus.drain()  # the store now knows #general (recorded before the commands run)
    for text in ("forever", "week forever", "#forever", "general", "month #general"):
        await adapter.inject(command("leaderboard", text))
    await app.bus.drain()
    replies = {a.command.text: a.text for a in adapter.of_type(CommandReply) if isinstance(a, CommandReply)}

    expected = (
        "I don't know `forever`: the period is `week`, `month` or `all`, and a channel is named with `#`, "
        f"like `#help`. {USAGE}"
    )
    assert replies["forever"] == expected
    assert replies["week forever"] == expected
    # Typed with "#", it is a channel name, and an unknown one is said so.
    assert replies["#forever"] == f"I don't know a channel #forever here. {USAGE}"
    # A bare word naming a channel the store knows still picks that channel.
    assert "in #general" in replies["general"] and "in #general" in replies["month #general"]
