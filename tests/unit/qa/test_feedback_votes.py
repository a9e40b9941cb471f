"""One member's 👍/👎 on an answer counts once: the last vote wins, however often they click or react."""

from __future__ import annotations

from typing import Any

from bot.events import ButtonClicked, ReactionAdded, SendMessage
from bot.testing import ScriptedLLM, make_message, user
from brain.qa.brain import FEEDBACK_ACTION


def _echo(messages: Any) -> str:
    content = messages[-1].content
    return "restart the worker with systemctl restart worker [1]" if "systemctl" in content else "NOT_FOUND"


async def _run(app: Any, adapter: Any, *events: Any) -> None:
    for event in events:
        await adapter.inject(event)
    await app.bus.drain()


async def test_repeated_clicks_and_reactions_count_as_the_members_last_vote(make_app: Any) -> None:
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(_echo))
    q = make_message("how do I restart the worker?", mentions_bot=True, minutes=60)
    await _run(app, adapter, make_message("restart the worker with systemctl restart worker", author="bob"), q)
    [answer] = adapter.of_type(SendMessage)
    up, down = (next(b.value for b in answer.buttons if b.value.startswith(v)) for v in ("up:", "down:"))

    def click(value: str, who: str, n: int) -> ButtonClicked:
        return ButtonClicked(FEEDBACK_ACTION, value, user(who), q.channel, "bot-1", f"click-{who}-{n}")

    await _run(app, adapter, *(click(down, "carol", n) for n in range(5)), click(up, "carol", 5))
    await _run(app, adapter, click(down, "dave", 0))
    bot_msg = make_message(answer.text, author=user("guildhall", bot=True), thread_id=q.message_id, message_id="bot-1")
    await _run(app, adapter, bot_msg)  # stored before the reactions look it up
    await _run(
        app,
        adapter,
        ReactionAdded(q.channel, "bot-1", user("erin"), "👎"),
        ReactionAdded(q.channel, "bot-1", user("erin"), "-1"),
    )
    votes = sorted((r[2], r[5]) for r in await app.store.feedback("qa"))
    assert votes == [("carol", "up"), ("dave", "down"), ("erin", "down")]
    status = await app.brain("qa").status(q.platform.value, q.channel.workspace_id)
    assert status[0].endswith("feedback 👍 1 / 👎 2")
