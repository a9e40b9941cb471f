"""👍/👎 on answers from members who opted out or asked to be forgotten are not stored.

The bus gate drops a forgotten member's messages and reactions but lets button clicks through (a
forgotten moderator's draft approvals must still work), so the QA brain checks itself.
"""

from __future__ import annotations

from typing import Any

from bot.events import ButtonClicked, ReactionAdded, SendEphemeral, SendMessage
from bot.testing import ScriptedLLM, command, make_message, user
from brain.qa.brain import FEEDBACK_ACTION
from prompts import load_prompt


def _echo(messages: Any) -> str:
    content = messages[-1].content
    return "restart the worker with systemctl restart worker [1]" if "systemctl" in content else "NOT_FOUND"


async def _answered(make_app: Any) -> tuple[Any, Any, Any, SendMessage]:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(_echo))
    for event in (
        make_message("restart the worker with systemctl restart worker", author="bob"),
        make_message("how do I restart the worker?", mentions_bot=True, minutes=60),
    ):
        await adapter.inject(event)
    await app.bus.drain()
    [answer] = adapter.of_type(SendMessage)
    return app, adapter, event, answer


async def _run(app: Any, adapter: Any, *events: Any) -> None:
    for event in events:
        await adapter.inject(event)
    await app.bus.drain()


async def test_a_forgotten_members_click_is_not_stored_but_still_answered(make_app: Any) -> None:
    app, adapter, q, answer = await _answered(make_app)
    await _run(app, adapter, command("forget-me", "confirm", author="carol"))
    up = next(b for b in answer.buttons if b.value.startswith("up:"))
    click = ButtonClicked(
        FEEDBACK_ACTION, up.value, user("carol"), q.channel, "answer-msg", "click-1", response_ref="i1"
    )
    await _run(app, adapter, click)
    assert [r for r in await app.store.feedback("qa") if r[2] == "carol"] == []
    [reply] = [a for a in adapter.of_type(SendEphemeral) if a.response_ref == "i1"]
    assert reply.text == load_prompt("qa_feedback_not_stored")


async def test_an_opted_out_members_click_and_reaction_are_not_stored(make_app: Any) -> None:
    app, adapter, q, answer = await _answered(make_app)
    await _run(app, adapter, command("optout", author="dave"))
    down = next(b for b in answer.buttons if b.value.startswith("down:"))
    bot_msg = make_message(answer.text, author=user("guildhall", bot=True), thread_id=q.message_id, message_id="bot-1")
    await _run(
        app,
        adapter,
        bot_msg,
        ButtonClicked(FEEDBACK_ACTION, down.value, user("dave"), q.channel, "bot-1", "click-d", response_ref="i2"),
        ReactionAdded(q.channel, "bot-1", user("dave"), "-1"),
    )
    assert await app.store.feedback("qa") == []
    [reply] = [a for a in adapter.of_type(SendEphemeral) if a.response_ref == "i2"]
    assert reply.text == load_prompt("qa_feedback_not_stored")
    # Back in: their votes count again (the check reads the setting, it does not remember).
    await _run(app, adapter, command("optin", author="dave"))
    await _run(app, adapter, ReactionAdded(q.channel, "bot-1", user("dave"), "👎"))
    assert [(r[2], r[4], r[5]) for r in await app.store.feedback("qa")] == [
        ("dave", down.value.split(":", 1)[1], "down")
    ]


async def test_forget_me_leaves_no_mark_of_the_members_reactions(make_app: Any) -> None:
    """A reaction's dedupe mark is keyed by its event id, which names the member: it stayed after
    /forget-me. Another member's mark stays (with an id that only starts like hers)."""
    app, adapter, q, answer = await _answered(make_app)
    bot_msg = make_message(answer.text, author=user("guildhall", bot=True), thread_id=q.message_id, message_id="bot-1")
    await _run(app, adapter, bot_msg)  # stored before the reactions look it up
    await _run(
        app,
        adapter,
        ReactionAdded(q.channel, "bot-1", user("erin"), "👍"),
        ReactionAdded(q.channel, "bot-1", user("erin_2"), "👍"),
    )
    marks = "SELECT event_id FROM processed_events WHERE consumer = 'qa.feedback'"
    assert len(await app.store.db.fetchall(marks)) == 2
    await _run(app, adapter, command("forget-me", "confirm", author="erin"))
    left = [str(r[0]) for r in await app.store.db.fetchall(marks)]
    assert len(left) == 1 and ":erin_2:" in left[0]
