"""A reaction touches a profile once per member and message, also after the daily purge of dedupe
marks: a reaction older than the dedupe horizon, whose mark may be gone, is not profiled; a reaction
given now is, whatever the age of the message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import FakeClock
from bot.events import ReactionAdded
from bot.testing.builders import make_message, user

# The marks are stamped by the wall clock (Store.mark_processed): the fake clock starts there.
NOW = datetime.now(UTC)


def travel(clock: FakeClock, delta: timedelta) -> None:
    """Move time on without waking the jobs one by one (three months of one-minute ticks)."""
    clock._now += delta


async def _profile_events(app: Any, who: str) -> int:
    row = await app.store.db.fetchone("SELECT events FROM recommend_profiles WHERE user_id = ?", (who,))
    return 0 if row is None else int(row[0])


async def test_a_reaction_delivered_again_after_its_mark_was_purged_touches_the_profile_once(make_app: Any) -> None:
    clock = FakeClock(NOW)
    app, adapter = await make_app(brains=["recommend"], clock=clock)
    msg = make_message("asyncio event loop and task cancellation", author="bob", message_id="m1", ts=NOW)
    reaction = ReactionAdded(msg.channel, "m1", user("alice"), "👍", NOW + timedelta(minutes=1))
    await adapter.inject(msg)
    await app.bus.drain()  # stored first: the recorder and the brains run on separate queues
    await adapter.inject(reaction)
    await app.bus.drain()
    assert await _profile_events(app, "alice") == 1
    travel(clock, timedelta(days=92))
    assert await app.brain("core").purge_dedupe_marks() == 1
    # The same reaction again, past the bus's memory (the Redis bus after a long outage).
    await app.brain("recommend").on_reaction(reaction)
    assert await _profile_events(app, "alice") == 1
    # A reaction given now, months on, is a new sign of interest.
    await app.brain("recommend").on_reaction(ReactionAdded(msg.channel, "m1", user("alice"), "🎉", clock.now()))
    assert await _profile_events(app, "alice") == 2


async def test_a_first_reaction_today_to_a_message_older_than_the_horizon_is_profiled(make_app: Any) -> None:
    clock = FakeClock(NOW)
    app, adapter = await make_app(brains=["recommend"], clock=clock)
    msg = make_message("asyncio event loop and task cancellation", author="bob", message_id="m1", ts=NOW)
    await adapter.inject(msg)
    await app.bus.drain()
    travel(clock, timedelta(days=120))
    await app.brain("recommend").on_reaction(ReactionAdded(msg.channel, "m1", user("carol"), "👍", clock.now()))
    assert await _profile_events(app, "carol") == 1


async def test_a_reaction_to_a_message_within_the_horizon_is_profiled_after_a_purge(make_app: Any) -> None:
    clock = FakeClock(NOW)
    app, adapter = await make_app(brains=["recommend"], clock=clock)
    msg = make_message("asyncio event loop and task cancellation", author="bob", message_id="m1", ts=NOW)
    await adapter.inject(msg)
    await app.bus.drain()
    travel(clock, timedelta(days=60))
    assert await app.brain("core").purge_dedupe_marks() == 0
    await app.brain("recommend").on_reaction(ReactionAdded(msg.channel, "m1", user("alice"), "👍", clock.now()))
    assert await _profile_events(app, "alice") == 1
