"""``deny_channels`` excludes a channel from recommendations as it does from the index: its threads
are never recommended, its messages never profiled, and it is never suggested, from the moment an
admin sets it (a cached history snapshot included)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from bot.testing.builders import BASE_TIME, make_message, user
from brain.recommend.brain import RecommendBrain

Factory = Callable[..., Awaitable[Any]]


async def _post(app: Any, adapter: Any, *events: Any) -> None:
    for e in events:
        await adapter.inject(e)
    await app.bus.drain()


def _thread(root_id: str, author: str, text: str, chan: str, minutes: float) -> Any:
    return make_message(text, author=author, chan=chan, message_id=root_id, thread_id=root_id, minutes=minutes)


async def test_a_denied_channel_is_neither_recommended_nor_profiled(make_app: Factory) -> None:
    clock = FakeClock(BASE_TIME + timedelta(hours=2))
    app, adapter = await make_app(brains=["recommend"], clock=clock)
    brain = app.brain("recommend")
    assert isinstance(brain, RecommendBrain)
    await _post(
        app,
        adapter,
        _thread("p1", "bob", "asyncio event loop question: how to cancel a task?", "python", 1),
        _thread("p2", "erin", "asyncio gather with timeouts?", "python", 2),
        _thread("s1", "dave", "salary negotiation tips for the team", "hr-talk", 3),
        make_message("I love asyncio and await syntax", author="alice", chan="python", minutes=4),
    )
    before = {r.channel_id for r in await brain.recommend(user("alice"), k=10)}
    assert before == {"python", "hr-talk"}  # both readable, both recommended (the snapshot is now cached)
    assert "hr-talk" in {name for name, _ in await brain.suggest_channels(user("alice"), k=5)}

    # By name, as admins type it: takes effect at once, though the history snapshot is cached.
    await app.store.set_workspace_setting("console", "local", "deny_channels", ["hr-talk"])
    after = await brain.recommend(user("alice"), k=10)
    assert after and {r.channel_id for r in after} == {"python"}
    assert "hr-talk" not in {name for name, _ in await brain.suggest_channels(user("alice"), k=5)}

    # A message there does not move the author's profile.
    profile = await brain.profile_vector(user("alice"))
    await _post(app, adapter, make_message("salary bands and raises", author="alice", chan="hr-talk", minutes=5))
    assert profile is not None and (await brain.profile_vector(user("alice")) == profile).all()
