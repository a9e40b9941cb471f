"""Counters when events arrive the way live traffic does: one at a time, each in its own batch.

The other counter tests inject a whole conversation before draining, so every event lands in one
batch; live, the asker's ✅ or thanks comes minutes later, in a batch that holds only that event.
"""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from bot.events import Event, MessageDeleted, ReactionAdded, ReactionRemoved
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, user
from brain.activity.brain import ActivityBrain
from tests.conftest import AppFactory

LONG = "here is a long enough answer"
NAMES = ("messages", "replies", "threads", "reactions", "helpful", "answered")


async def totals(app, who: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    row = await app.store.db.fetchone(
        f"SELECT {', '.join(f'SUM({n})' for n in NAMES)} FROM activity_rollup WHERE user_id = ?", (who,)
    )
    return {n: int(v or 0) for n, v in zip(NAMES, row or (), strict=False)}


async def one_by_one(app, adapter, events: list[Event]) -> None:  # type: ignore[no-untyped-def]
    for e in events:
        await adapter.inject(e)
        await app.bus.drain()


def react(mid: str, who: str, emoji: str, *, added: bool = True) -> ReactionAdded | ReactionRemoved:
    cls = ReactionAdded if added else ReactionRemoved
    return cls(
        channel=channel("help"), message_id=mid, user=user(who), emoji=emoji, ts=BASE_TIME + timedelta(minutes=5)
    )


async def test_askers_check_mark_in_a_later_batch_credits_the_reply(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=1)))
    q = make_message("how do I fix poetry lock errors?", author="asker", chan="help", message_id="q1")
    a = make_message(LONG, author="helper", chan="help", message_id="a1", thread_id="q1", minutes=1)
    await one_by_one(app, adapter, [q, a, react("a1", "asker", "white_check_mark")])
    assert (await totals(app, "helper"))["helpful"] == 1
    # Removing the mark (again in its own batch) takes the credit back; redelivering the removal is a no-op.
    await one_by_one(app, adapter, [react("a1", "asker", "white_check_mark", added=False)])
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    await brain.counters.apply([react("a1", "asker", "white_check_mark", added=False)])
    assert (await totals(app, "helper"))["helpful"] == 0
    assert (await totals(app, "helper"))["reactions"] == 0


async def test_a_bystanders_check_mark_is_a_reaction_not_a_helpful_mark(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=1)))
    q = make_message("why does pip resolve the wrong version?", author="asker", chan="help", message_id="q1")
    a = make_message(LONG, author="helper", chan="help", message_id="a1", thread_id="q1", minutes=1)
    await one_by_one(app, adapter, [q, a, react("a1", "bystander", "✅")])
    # Only the asker can say a reply answered the question.
    assert await totals(app, "helper") == {
        "messages": 1,
        "replies": 1,
        "threads": 0,
        "reactions": 1,
        "helpful": 0,
        "answered": 0,
    }


async def test_thanks_in_a_later_batch_then_reply_deleted(make_app: AppFactory) -> None:
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=1)))
    q = make_message("how do I pin a dependency version?", author="asker", chan="help", message_id="q1")
    a = make_message(LONG, author="helper", chan="help", message_id="a1", thread_id="q1", minutes=1)
    t = make_message("thank you, that worked", author="asker", chan="help", message_id="t1", thread_id="q1", minutes=3)
    await one_by_one(app, adapter, [q, a, t])
    assert (await totals(app, "helper"))["helpful"] == 1
    await one_by_one(app, adapter, [MessageDeleted(channel=channel("help"), message_id="a1")])
    assert await totals(app, "helper") == dict.fromkeys(NAMES, 0)
