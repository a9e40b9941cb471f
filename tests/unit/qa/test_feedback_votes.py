"""One member's 👍/👎 on an answer counts once: the last vote wins, however often they click or react,
by button or by reaction, on whichever of its messages. Only the bot's answers take votes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.events import ButtonClicked, MessageDeleted, MessagePosted, ReactionAdded, SendMessage
from bot.testing import ScriptedLLM, make_message, user
from bot.testing.builders import BASE_TIME
from brain.qa.brain import FEEDBACK_ACTION, QABrain
from brain.qa.shown import shows, words
from prompts import load_prompt

BOT = user("guildhall", bot=True)


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


async def answered(make_app: Any) -> tuple[Any, Any, MessagePosted, SendMessage]:
    """alice's mention answered in its thread, and the answer back as the bot's message ``bot-1``:
    (app, adapter, the question, the answer sent)."""
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(_echo))
    q = make_message("how do I restart the worker?", mentions_bot=True, minutes=60)
    await _run(app, adapter, make_message("restart the worker with systemctl restart worker", author="bob"), q)
    [answer] = adapter.of_type(SendMessage)
    bot_msg = make_message(answer.text, author=BOT, thread_id=q.message_id, message_id="bot-1", minutes=60)
    await _run(app, adapter, bot_msg)
    return app, adapter, q, answer


async def votes(app: Any) -> list[tuple[str, str, str]]:
    """``(member, target, vote)`` of every stored 👍/👎."""
    return sorted((r[2], r[4], r[5]) for r in await app.store.feedback("qa"))


def answer_id(answer: SendMessage) -> str:
    return next(b.value for b in answer.buttons if b.value.startswith("up:")).partition(":")[2]


async def test_a_reaction_added_again_after_a_change_of_mind_is_the_members_last_vote(make_app: Any) -> None:
    """erin reacts 👍, changes her mind to 👎, then back to 👍. Re-adding a reaction repeats its
    event id (message, member, emoji): the brain must tell it from a redelivery by its time. The
    bus drops a repeated event id itself for a while (bot.events), so the re-added 👍 is handed to
    the brain as a bus delivers it once its record of the id is gone."""
    app, adapter, q, answer = await answered(make_app)
    first_up = ReactionAdded(q.channel, "bot-1", user("erin"), "👍", ts=BASE_TIME + timedelta(minutes=61))
    down = ReactionAdded(q.channel, "bot-1", user("erin"), "👎", ts=BASE_TIME + timedelta(minutes=62))
    await _run(app, adapter, first_up, down)
    brain: QABrain = app.brain("qa")
    await brain.feedback_reaction(replace(first_up, ts=BASE_TIME + timedelta(minutes=63)))
    assert await votes(app) == [("erin", answer_id(answer), "up")]


async def test_a_redelivered_old_reaction_does_not_replace_a_newer_vote(make_app: Any) -> None:
    """A reaction delivered again late (another worker, a retry) carries its old time: the member's
    newer vote stays."""
    app, adapter, q, answer = await answered(make_app)
    up = ReactionAdded(q.channel, "bot-1", user("erin"), "👍", ts=BASE_TIME + timedelta(minutes=61))
    down = ReactionAdded(q.channel, "bot-1", user("erin"), "👎", ts=BASE_TIME + timedelta(minutes=62))
    await _run(app, adapter, up, down)
    brain: QABrain = app.brain("qa")
    await brain.feedback_reaction(up)
    assert await votes(app) == [("erin", answer_id(answer), "down")]


async def test_a_reaction_on_another_bots_message_under_an_answer_is_not_feedback(make_app: Any) -> None:
    """A CI bot posts in a thread the bot answered: a 👎 on its message says nothing of our answer."""
    app, adapter, q, _ = await answered(make_app)
    ci = make_message("Build #42 failed", author=user("ci-bot", bot=True), thread_id=q.message_id, message_id="ci-1")
    await _run(app, adapter, ci)  # stored before the reaction looks it up
    await _run(app, adapter, ReactionAdded(q.channel, "ci-1", user("erin"), "👎"))
    assert await votes(app) == []


async def test_a_reaction_on_the_bots_busy_notice_is_not_feedback(make_app: Any) -> None:
    """The bot's own notice in an answered thread ("the model is busy") is no answer."""
    app, adapter, q, _ = await answered(make_app)
    busy = make_message(load_prompt("qa_busy"), author=BOT, thread_id=q.message_id, message_id="bot-2", minutes=61)
    await _run(app, adapter, busy)
    await _run(app, adapter, ReactionAdded(q.channel, "bot-2", user("erin"), "👎"))
    assert await votes(app) == []


async def test_a_members_click_and_reaction_on_one_answer_are_one_vote(make_app: Any) -> None:
    """erin clicks 👍 Helpful under the answer, then reacts 👎 on it: one vote, her last."""
    app, adapter, q, answer = await answered(make_app)
    up = next(b.value for b in answer.buttons if b.value.startswith("up:"))
    click = ButtonClicked(
        FEEDBACK_ACTION, up, user("erin"), q.channel, "bot-1", "click-erin", ts=BASE_TIME + timedelta(minutes=61)
    )
    react = ReactionAdded(q.channel, "bot-1", user("erin"), "👎", ts=BASE_TIME + timedelta(minutes=62))
    await _run(app, adapter, click, react)
    assert await votes(app) == [("erin", answer_id(answer), "down")]
    status = await app.brain("qa").status(q.platform.value, q.channel.workspace_id)
    assert status[0].endswith("feedback 👍 0 / 👎 1")


async def test_a_reaction_on_a_discord_inline_reply_answer_is_feedback(make_app: Any) -> None:
    """On Discord a mention in a plain channel is answered with an inline reply: the bot's message
    is in no thread and replies to the question."""
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(_echo))
    q = make_message("how do I restart the worker?", mentions_bot=True, minutes=60)
    await _run(app, adapter, make_message("restart the worker with systemctl restart worker", author="bob"), q)
    [answer] = adapter.of_type(SendMessage)
    inline = replace(make_message(answer.text, author=BOT, message_id="bot-1", minutes=60), reply_to=q.message_id)
    await _run(app, adapter, inline)
    await _run(app, adapter, ReactionAdded(q.channel, "bot-1", user("erin"), "👍"))
    assert await votes(app) == [("erin", answer_id(answer), "up")]


async def two_step_answer(make_app: Any) -> tuple[Any, Any, MessagePosted, SendMessage]:
    """alice's mention answered with two sentences (two parts when posted split):
    (app, adapter, the question, the answer sent)."""
    steps = "stop the worker with systemctl stop worker. then clear the queue with make clean-queue"
    app, adapter = await make_app(
        brains=["qa"], llm=ScriptedLLM(lambda m: f"{steps} [1]" if "queue" in m[-1].content else "NOT_FOUND")
    )
    q = make_message("how do I reset the worker queue?", mentions_bot=True, minutes=60)
    await _run(app, adapter, make_message(steps, author="bob"), q)
    [answer] = adapter.of_type(SendMessage)
    return app, adapter, q, answer


async def test_reactions_on_the_parts_of_a_long_answer_are_one_vote_on_it(make_app: Any) -> None:
    """A long answer is posted over several messages (Discord's 2,000 characters): a reaction on
    either part is a vote on the answer, and one member's reactions on both are one vote."""
    app, adapter, q, answer = await two_step_answer(make_app)
    first, _, rest = answer.text.partition(". ")
    assert rest, answer.text  # two parts, of 5 words or more each
    parts = [
        make_message(f"{first}.", author=BOT, thread_id=q.message_id, message_id="bot-1", minutes=60),
        make_message(rest, author=BOT, thread_id=q.message_id, message_id="bot-2", minutes=60),
    ]
    await _run(app, adapter, *parts)
    await _run(
        app,
        adapter,
        ReactionAdded(q.channel, "bot-1", user("erin"), "👍", ts=BASE_TIME + timedelta(minutes=61)),
        ReactionAdded(q.channel, "bot-2", user("erin"), "👎", ts=BASE_TIME + timedelta(minutes=62)),
        ReactionAdded(q.channel, "bot-2", user("frank"), "👍", ts=BASE_TIME + timedelta(minutes=62)),
    )
    assert await votes(app) == [("erin", answer_id(answer), "down"), ("frank", answer_id(answer), "up")]


@pytest.mark.parametrize(
    ("said", "posted", "shown"),
    [
        pytest.param(
            "See the [deploy guide](https://wiki.example.org/deploy) first [1]",
            "See the <https://wiki.example.org/deploy|deploy guide> first [1]",
            True,
            id="slack-link",
        ),
        pytest.param(
            "@everyone: restart the worker with systemctl restart worker",
            "@\u200beveryone: restart the worker with systemctl restart worker",
            True,
            id="discord-mass-mention",
        ),
        pytest.param(
            "Run this:\n```bash\nsystemctl restart worker\n```",
            "Run this:\n```\nsystemctl restart worker\n```",
            True,
            id="slack-fence",
        ),
        pytest.param(
            "After the build failed, restart the worker with systemctl restart worker [1]",
            "Build failed",
            False,
            id="a-few-of-its-words",
        ),
        pytest.param(
            "restart the worker with systemctl restart worker [1]",
            load_prompt("qa_busy"),
            False,
            id="other-words",
        ),
        pytest.param(
            "restart the worker with systemctl restart worker.\n\nHope this helps [1]",
            "Hope this helps [1]",
            True,
            id="a-short-last-part",
        ),
    ],
)
def test_an_answer_is_recognised_in_the_text_the_platform_shows(said: str, posted: str, shown: bool) -> None:
    """The adapters rewrite an answer as they post it (Slack's ``<url|label>`` links and fences
    without a language, a zero-width space in a Discord mass mention): still the answer. A message
    holding only a few of its words, or others, is not."""
    assert shows(words(posted), words(said)) is shown


async def test_a_reaction_on_an_answer_whose_source_was_deleted_still_counts(make_app: Any) -> None:
    """A deleted source blanks the logged answer's text (it may quote it); the posted answer and its
    buttons stay. With no words to compare, a 👍 on it was dropped: it goes to the answer logged
    in that thread when the message was posted."""
    app, adapter = await make_app(brains=["qa"], llm=ScriptedLLM(_echo))
    src = make_message("restart the worker with systemctl restart worker", author="bob", message_id="src")
    q = make_message("how do I restart the worker?", mentions_bot=True)
    await _run(app, adapter, src, q)
    [answer] = adapter.of_type(SendMessage)
    await _run(app, adapter, make_message(answer.text, author=BOT, thread_id=q.message_id, message_id="bot-1"))
    await _run(app, adapter, MessageDeleted(q.channel, "src", BASE_TIME + timedelta(minutes=1)))
    [logged] = await app.brain("qa").answer_log.in_thread("console", "local", q.message_id)  # type: ignore[attr-defined]
    assert logged.scrubbed
    await _run(app, adapter, ReactionAdded(q.channel, "bot-1", user("erin"), "👍", ts=BASE_TIME + timedelta(minutes=2)))
    assert await votes(app) == [("erin", answer_id(answer), "up")]
    # Another bot's message there, a minute later, is not taken for it.
    ci = user("ci-bot", bot=True)
    later = make_message("Deploy finished", author=ci, thread_id=q.message_id, message_id="ci-1", minutes=1)
    await _run(app, adapter, later)
    await _run(app, adapter, ReactionAdded(q.channel, later.message_id, user("frank"), "👎"))
    assert [v[0] for v in await votes(app)] == ["erin"]


async def test_a_reaction_on_the_last_part_of_a_long_inline_reply_is_feedback(make_app: Any) -> None:
    """Discord gives only the first part of a long inline reply the reference to the question;
    the last part, the one with the buttons, replies to nothing and is in no thread."""
    app, adapter, q, answer = await two_step_answer(make_app)
    first, _, rest = answer.text.partition(". ")
    part1 = replace(make_message(f"{first}.", author=BOT, message_id="bot-1", minutes=60), reply_to=q.message_id)
    part2 = make_message(rest, author=BOT, message_id="bot-2", minutes=60)
    await _run(app, adapter, part1, part2)  # stored before the reaction looks them up
    await _run(app, adapter, ReactionAdded(q.channel, "bot-2", user("erin"), "👍"))
    assert await votes(app) == [("erin", answer_id(answer), "up")]
