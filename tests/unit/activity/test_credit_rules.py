"""Who earns "answered", "helpful", reactions and threads: the asker's word decides, spam earns nothing.

Through the real app (its store: SQLite, or PostgreSQL with ``GUILDHALL_TEST_STORE=postgresql``).
Each conversation is fed twice: all in one batch, and one event per batch as live traffic arrives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.events import Event, MessageEdited, MessagePosted, ReactionAdded, ReactionRemoved
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, user
from brain.activity.brain import ActivityBrain
from brain.activity.scoring import COUNTERS, is_rejection
from tests.conftest import AppFactory

ANSWER = "set the timeout on the client session, then retry with backoff"
GUESS = "have you tried restarting it?"


@pytest.fixture(params=["one batch", "live"])
def live(request: pytest.FixtureRequest) -> bool:
    return request.param == "live"


async def run(make_app: AppFactory, events: Sequence[Event], *, live: bool):  # type: ignore[no-untyped-def]
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(days=1)))
    for e in events:
        await adapter.inject(e)
        if live:
            await app.bus.drain()
    await app.bus.drain()
    return app


async def apply(app, *events: Event) -> None:  # type: ignore[no-untyped-def]
    """Apply ``events`` in one batch of their own, straight through the app's counters."""
    brain = next(b for b in app.brains if isinstance(b, ActivityBrain))
    await brain.counters.apply(events)


async def totals(app, who: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    row = await app.store.db.fetchone(
        f"SELECT {', '.join(f'SUM({c})' for c in COUNTERS)} FROM activity_rollup WHERE user_id = ?", (who,)
    )
    return {c: int(v or 0) for c, v in zip(COUNTERS, row or (), strict=False)}


async def answer_of(app, question: str) -> str:  # type: ignore[no-untyped-def]
    row = await app.store.db.fetchone("SELECT answer_id FROM activity_contrib WHERE message_id = ?", (question,))
    assert row is not None
    return str(row[0])


def say(text: str, who: str, mid: str, minutes: float, *, thread: str | None = "q", **extra: object) -> MessagePosted:
    m = make_message(text, author=who, chan="help", message_id=mid, thread_id=thread, minutes=minutes)
    return dataclasses.replace(m, **extra)  # type: ignore[arg-type]


def question(minutes: float = 0, mid: str = "q", who: str = "asker") -> MessagePosted:
    return say("why does my build fail on this step?", who, mid, minutes, thread=None)


def react(mid: str, who: str, minutes: float, emoji: str = "white_check_mark", *, added: bool = True) -> Event:
    cls = ReactionAdded if added else ReactionRemoved
    return cls(channel("help"), mid, user(who), emoji, BASE_TIME + timedelta(minutes=minutes))


# -- 1. "answered" follows what the asker says ---------------------------------------------------------
@pytest.mark.parametrize(
    "text", ["no, that did not help, same error", "still getting the same error", "nope", "that doesn't work either"]
)
def test_a_rejection_is_recognised(text: str) -> None:
    assert is_rejection(text)


@pytest.mark.parametrize("text", ["which cache do you mean", "ok let me try that", "thanks, that worked!", "same here"])
def test_a_follow_up_is_no_rejection(text: str) -> None:
    assert not is_rejection(text)


async def test_a_reply_the_asker_turns_down_is_not_the_answer(make_app: AppFactory, live: bool) -> None:
    app = await run(
        make_app,
        [
            question(),
            say(GUESS, "guesser", "g", 1),
            say("no, that did not help, same error", "asker", "n", 2),
            say("any other ideas on what it could be", "asker", "n2", 3),  # not an answer to g either
            say(ANSWER, "helper", "h", 4),
            react("h", "asker", 5),
        ],
        live=live,
    )
    assert (await totals(app, "guesser"))["answered"] == 0
    helper = await totals(app, "helper")
    assert (helper["helpful"], helper["answered"]) == (1, 1)
    assert await answer_of(app, "q") == "h"


async def test_the_askers_check_mark_moves_the_answer_to_the_reply_that_worked(
    make_app: AppFactory, live: bool
) -> None:
    app = await run(
        make_app,
        [
            question(),
            say(GUESS, "guesser", "g", 1),
            say("ok let me try that", "asker", "f", 2),  # takes the guess up: answered, for now
            say(ANSWER, "helper", "h", 3),
            react("h", "asker", 4),
        ],
        live=live,
    )
    assert (await totals(app, "guesser"))["answered"] == 0
    assert (await totals(app, "helper"))["answered"] == 1
    assert await answer_of(app, "q") == "h"


async def test_a_thanks_naming_the_helper_moves_the_answer(make_app: AppFactory, live: bool) -> None:
    app = await run(
        make_app,
        [
            question(),
            say(ANSWER, "helper", "h", 1),
            say(GUESS + " maybe twice", "guesser", "g", 2),
            react("g", "asker", 3),  # a mis-click on the guess...
            say("thanks @helper, the timeout fixed it", "asker", "t", 4, mentioned_user_ids=("helper",)),
        ],
        live=live,
    )
    assert (await totals(app, "helper"))["answered"] == 1 and (await totals(app, "helper"))["helpful"] == 1
    assert (await totals(app, "guesser"))["answered"] == 0
    assert await answer_of(app, "q") == "h"


async def test_an_unaimed_thanks_leaves_the_answer_on_the_reply_the_asker_marked(
    make_app: AppFactory, live: bool
) -> None:
    app = await run(
        make_app,
        [
            question(),
            say(ANSWER, "helper", "h", 1),
            react("h", "asker", 2),
            say("+1 same problem here too", "bystander", "b", 3),
            say("thanks, that worked!", "asker", "t", 4),
        ],
        live=live,
    )
    assert (await totals(app, "helper"))["answered"] == 1
    assert (await totals(app, "bystander"))["answered"] == 0


async def test_removing_the_check_mark_takes_the_answer_back(make_app: AppFactory, live: bool) -> None:
    app = await run(
        make_app,
        [
            question(),
            say("maybe look into the cron docs somewhere", "wrong", "w", 1),
            say(ANSWER, "right", "r", 2),
            react("w", "asker", 3),
            react("w", "asker", 4, added=False),
        ],
        live=live,
    )
    assert await totals(app, "wrong") == {**dict.fromkeys(COUNTERS, 0), "messages": 1, "replies": 1}
    assert await answer_of(app, "q") == ""
    # The answer is free for the reply the asker marks next.
    await apply(app, react("r", "asker", 5))
    assert (await totals(app, "right"))["answered"] == 1 and await answer_of(app, "q") == "r"


async def test_removing_a_check_mark_keeps_the_answer_a_thanks_gave(make_app: AppFactory, live: bool) -> None:
    app = await run(
        make_app,
        [
            question(),
            say(ANSWER, "helper", "h", 1),
            say("thanks, that worked!", "asker", "t", 2),
            react("h", "asker", 3),
            react("h", "asker", 4, added=False),
        ],
        live=live,
    )
    helper = await totals(app, "helper")
    assert (helper["helpful"], helper["answered"], helper["reactions"]) == (1, 1, 0)


# -- 2. spam earns nothing ----------------------------------------------------------------------------
async def test_reactions_count_only_on_messages_that_count(make_app: AppFactory, live: bool) -> None:
    spam = [make_message("lol", author="spam", chan="general", message_id=f"s{i}", minutes=i) for i in range(5)]
    alt = [react(f"s{i}", "spam_alt", 10 + i, "joy") for i in range(5)]
    app = await run(make_app, [*spam, *alt], live=live)
    assert (await totals(app, "spam"))["reactions"] == 0


async def test_an_edit_decides_whether_reactions_count(make_app: AppFactory) -> None:
    def edit(text: str, minutes: float) -> MessageEdited:
        return MessageEdited(channel("help"), "m", text, BASE_TIME + timedelta(minutes=minutes))

    app = await run(
        make_app,
        [say("ok", "poster", "m", 0, thread=None), react("m", "fan", 1, "heart"), react("m", "fan2", 1, "tada")],
        live=True,
    )
    assert (await totals(app, "poster"))["reactions"] == 0
    await apply(app, edit(ANSWER, 2))
    assert (await totals(app, "poster"))["reactions"] == 2
    await apply(app, react("m", "fan", 3, "heart", added=False))
    assert (await totals(app, "poster"))["reactions"] == 1
    await apply(app, edit("k", 4))
    assert (await totals(app, "poster"))["reactions"] == 0


async def test_a_check_mark_on_a_one_word_reply_is_no_answer(make_app: AppFactory, live: bool) -> None:
    app = await run(
        make_app,
        [
            say("does it work with python 3.12?", "alt", "q", 0, thread=None),
            say("yes", "main", "y", 1),
            react("y", "alt", 2),
        ],
        live=live,
    )
    assert await totals(app, "main") == dict.fromkeys(COUNTERS, 0)
    assert await answer_of(app, "q") == ""


async def test_a_thread_counts_only_when_its_root_and_reply_count(make_app: AppFactory, live: bool) -> None:
    app = await run(
        make_app,
        [
            say("hmm", "alt", "r1", 0, thread=None),
            say(ANSWER, "main", "a1", 1, thread="r1"),  # a real reply to a one-word root
            say("why does my build fail on this step?", "asker", "r2", 2, thread=None),
            say("k", "main", "a2", 3, thread="r2"),  # a one-word reply to a real root
        ],
        live=live,
    )
    assert (await totals(app, "alt"))["threads"] == 0
    assert (await totals(app, "asker"))["threads"] == 0
    # "k" edited into an answer is a reply that counts: the thread is started now.
    await apply(app, MessageEdited(channel("help"), "a2", ANSWER, BASE_TIME + timedelta(minutes=9)))
    assert (await totals(app, "asker"))["threads"] == 1


# -- 3. Discord: replies with the Reply button --------------------------------------------------------
async def test_a_discord_reply_thanking_the_answer_credits_the_helper(make_app: AppFactory, live: bool) -> None:
    app = await run(
        make_app,
        [
            question(),
            say(ANSWER, "helper", "a", 1, thread=None, reply_to="q"),
            say(GUESS + " or reinstalling", "guesser", "g", 2, thread=None, reply_to="q"),
            # The asker hits Reply on the helper's (earlier) answer: that one is thanked, not the latest.
            say("thanks, that worked!", "asker", "t", 3, thread=None, reply_to="a"),
        ],
        live=live,
    )
    helper = await totals(app, "helper")
    assert (helper["helpful"], helper["answered"], helper["threads"]) == (1, 1, 0)  # the answer is no thread root
    assert (await totals(app, "guesser"))["helpful"] == 0
    assert (await totals(app, "asker"))["threads"] == 1
    row = await app.store.db.fetchone("SELECT thread_id FROM activity_contrib WHERE message_id = 't'")
    assert row is not None and row[0] == "q"
