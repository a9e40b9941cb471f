"""A click on a recommendation by a member who asked to be forgotten is not stored.

The bus gate lets button clicks through, and a Discord member forgotten in one guild has no
``opted_out`` setting in a guild the bot met since: only the forgotten set knows them there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.events import ButtonClicked, Platform
from bot.testing.builders import BASE_TIME, channel, user
from brain.recommend.brain import RecommendBrain
from brain.recommend.digest import open_value


async def test_a_discord_member_forgotten_in_another_guild_leaves_no_click(make_app: Any) -> None:
    app, adapter = await make_app(brains=["recommend"], clock=FakeClock(BASE_TIME + timedelta(hours=2)))
    brain = app.brain("recommend")
    assert isinstance(brain, RecommendBrain)
    forgotten = await app.ctx.services.get("forgotten")
    forgotten.add(user("42", platform=Platform.DISCORD, workspace="G0"))  # /forget-me in guild G0
    member = user("42", platform=Platform.DISCORD, workspace="G1")
    rust = channel("rust", platform=Platform.DISCORD, workspace="G1")
    click = ButtonClicked("recommend.open.1", open_value("G1", "rust", "r1"), member, rust, "dm1", "i-1")
    await adapter.inject(click)
    await app.bus.drain()
    assert await brain.feedback_rows(member) == []
    # Anyone else's click still counts.
    other = user("43", platform=Platform.DISCORD, workspace="G1")
    await adapter.inject(ButtonClicked("recommend.open.1", open_value("G1", "rust", "r1"), other, rust, "dm2", "i-2"))
    await app.bus.drain()
    assert await brain.feedback_rows(other) == [("r1", "clicked")]
