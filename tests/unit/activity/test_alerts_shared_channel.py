"""An alerts channel shared with another organisation (Slack Connect) gets no alerts or boards:
they quote terms, link messages and name members. Before, they were posted there."""

from __future__ import annotations

from typing import Any

from bot.clock import FakeClock
from bot.events import ChannelRef, ChannelSeen, Platform, SendMessage, Visibility
from bot.testing.builders import BASE_TIME
from brain.activity.brain import ActivityBrain
from tests.unit.activity.test_alerts import seed_burst


async def scan_posts(make_app: Any, settings: Any, *, shared: bool) -> tuple[list[SendMessage], list[str]]:
    clock = FakeClock(BASE_TIME)
    tuned = settings.model_copy(
        update={"activity": settings.activity.model_copy(update={"alerts_channel_id": "staff"})}
    )
    app, adapter = await make_app(brains=["activity"], clock=clock, settings_override=tuned)
    staff = ChannelRef(Platform.CONSOLE, "local", "staff", "staff", Visibility.PRIVATE, shared_externally=shared)
    await adapter.inject(ChannelSeen(staff))
    await seed_burst(adapter, clock)
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    await brain.trend_scan()
    await app.bus.drain()
    return [a for a in adapter.of_type(SendMessage) if isinstance(a, SendMessage)], await brain.status(
        "console", "local"
    )


async def test_a_shared_alerts_channel_gets_no_alerts(make_app: Any, settings: Any) -> None:
    posts, status = await scan_posts(make_app, settings, shared=True)
    assert posts == []
    assert "shared with another organisation" in status[0]


async def test_an_alerts_channel_of_our_own_gets_them(make_app: Any, settings: Any) -> None:
    posts, _ = await scan_posts(make_app, settings, shared=False)
    assert [p.channel.channel_id for p in posts if "poetry lock" in p.text] == ["staff"]
