"""A vote on an answer is taken once, also after the daily purge of dedupe marks: a vote older than
the dedupe horizon (a click delivered again after a long outage, a re-imported reaction) is ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import FakeClock
from bot.events import ButtonClicked, EventSource, ReactionAdded, SendEphemeral, SendMessage
from bot.testing import ScriptedLLM, make_message, user
from brain.qa.brain import FEEDBACK_ACTION
from prompts import load_prompt

# The marks are stamped by the wall clock (Store.mark_processed): the fake clock starts there.
NOW = datetime.now(UTC)


def travel(clock: FakeClock, delta: timedelta) -> None:
    """Move time on without waking the jobs one by one (three months of one-minute ticks)."""
    clock._now += delta


def _echo(messages: Any) -> str:
    content = messages[-1].content
    return "restart the worker with systemctl restart worker [1]" if "systemctl" in content else "NOT_FOUND"


async def _answered(make_app: Any, clock: FakeClock) -> tuple[Any, Any, Any, SendMessage]:
    """alice's mention answered, and the answer back as the bot's message ``bot-1``."""
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(_echo), clock=clock)
    q = make_message("how do I restart the worker?", mentions_bot=True, ts=NOW + timedelta(minutes=1))
    for event in (make_message("restart the worker with systemctl restart worker", author="bob", ts=NOW), q):
        await adapter.inject(event)
    await app.bus.drain()
    [answer] = adapter.of_type(SendMessage)
    bot_msg = make_message(
        answer.text, author=user("guildhall", bot=True), thread_id=q.message_id, message_id="bot-1", ts=NOW
    )
    await adapter.inject(bot_msg)
    await app.bus.drain()
    return app, adapter, q, answer


def _thanks(adapter: Any) -> int:
    return sum(e.text == load_prompt("qa_feedback_thanks") for e in adapter.of_type(SendEphemeral))


async def test_a_click_delivered_again_after_its_mark_was_purged_is_not_taken_again(make_app: Any) -> None:
    clock = FakeClock(NOW)
    app, adapter, q, answer = await _answered(make_app, clock)
    up = next(b.value for b in answer.buttons if b.value.startswith("up:"))
    click = ButtonClicked(FEEDBACK_ACTION, up, user("carol"), q.channel, "bot-1", "click-1", NOW, response_ref="i1")
    await adapter.inject(click)
    await app.bus.drain()
    assert _thanks(adapter) == 1 and len(await app.store.feedback("qa")) == 1
    travel(clock, timedelta(days=92))
    assert await app.brain("core").purge_dedupe_marks() == 1
    await app.store.db.execute("DELETE FROM feedback")  # as a retention purge or an erasure would
    # The same click again, past the bus's memory (the Redis bus after a long outage).
    await app.brain("qa").feedback_button(click)
    assert _thanks(adapter) == 1
    assert await app.store.feedback("qa") == []


async def test_a_reimported_reaction_older_than_the_horizon_is_no_vote_again(make_app: Any) -> None:
    clock = FakeClock(NOW)
    app, adapter, q, _ = await _answered(make_app, clock)
    # An import stamps a reaction with its message's time.
    imported = ReactionAdded(q.channel, "bot-1", user("dave"), "-1", NOW, source=EventSource.IMPORT)
    await adapter.inject(imported)
    await app.bus.drain()
    assert [(r[2], r[5]) for r in await app.store.feedback("qa")] == [("dave", "down")]
    travel(clock, timedelta(days=92))
    assert await app.brain("core").purge_dedupe_marks() == 1
    await app.store.db.execute("DELETE FROM feedback")
    await app.brain("qa").feedback_reaction(imported)  # the history imported again
    assert await app.store.feedback("qa") == []


async def test_a_vote_within_the_horizon_is_taken_after_a_purge(make_app: Any) -> None:
    clock = FakeClock(NOW)
    app, _, q, _ = await _answered(make_app, clock)
    travel(clock, timedelta(days=92))
    await app.brain("core").purge_dedupe_marks()
    # A live 👍 today on the three-month-old answer counts: the horizon is the vote's time.
    await app.brain("qa").feedback_reaction(ReactionAdded(q.channel, "bot-1", user("erin"), "+1", clock.now()))
    assert [(r[2], r[5]) for r in await app.store.feedback("qa")] == [("erin", "up")]
