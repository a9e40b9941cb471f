"""Credits never outlive the message state that earned them: marks and thread credits go only to
messages that count, and a deleted message contributes nothing.

A marked reply edited down to "." loses its helpful mark and the question's answer, and gets back
those whose sources still stand when it is edited back; a thread whose last reply that counts from
someone else is deleted or edited away, or whose root is edited under min_words, is no thread started
(and a place under the daily cap on started threads is freed).

Through the real app (its store: SQLite, or PostgreSQL with ``GUILDHALL_TEST_STORE=postgresql``);
each conversation is fed in one batch and one event per batch, as live traffic arrives. Edits and
deletes are delivered again: a redelivery changes nothing more.
"""

from __future__ import annotations

import pytest

from bot.events import Event
from bot.recorder import Recorder
from bot.store import Store
from brain.activity.counters import ActivityCounters
from brain.activity.scoring import COUNTERS, STARTED_THREADS_PER_DAY
from tests.conftest import AppFactory
from tests.unit.activity.counting import UTC
from tests.unit.activity.counting import totals as store_totals
from tests.unit.activity.test_credit_rules import ANSWER, answer_of, apply, question, react, run, say, totals
from tests.unit.activity.test_credit_takeback import deleted, edited, marks
from tests.unit.activity.test_gaming_started import answered_question

OTHER_ANSWER = "pin the dependency to the last release that still builds"
NONE = dict.fromkeys(COUNTERS, 0)


@pytest.fixture(params=["one batch", "live"])
def live(request: pytest.FixtureRequest) -> bool:
    return str(request.param) == "live"


# -- 1. the asker's marks follow whether the reply counts ---------------------------------------------
async def test_a_marked_reply_edited_to_a_dot_loses_its_marks_and_the_answer(make_app: AppFactory, live: bool) -> None:
    conversation = [question(), say(ANSWER, "helper", "h", 1), react("h", "asker", 2)]
    app = await run(make_app, [*conversation, edited("h", ".", 3)], live=live)
    # Reactions and the reply credit already followed the edit; the ✅'s mark and the answer did not.
    assert await totals(app, "helper") == NONE
    assert await answer_of(app, "q") == ""
    await apply(app, edited("h", ".", 3))  # redelivered
    assert await totals(app, "helper") == NONE


async def test_a_reply_edited_back_gets_back_the_marks_whose_sources_stand(make_app: AppFactory, live: bool) -> None:
    conversation = [question(), say(ANSWER, "helper", "h", 1), react("h", "asker", 2), edited("h", ".", 3)]
    app = await run(make_app, conversation, live=live)
    assert await marks(app) == (0, 0)
    await apply(app, edited("h", f"{ANSWER} (see the docs)", 4))
    expected = {**NONE, "messages": 1, "replies": 1, "reactions": 1, "helpful": 1, "answered": 1}
    assert await totals(app, "helper") == expected
    assert await answer_of(app, "q") == "h"
    await apply(app, edited("h", f"{ANSWER} (see the docs)", 4))  # redelivered
    assert await totals(app, "helper") == expected
    assert (await totals(app, "asker"))["threads"] == 1


async def test_an_answer_a_follow_up_gave_comes_back_without_the_thanks_deleted_meanwhile(
    make_app: AppFactory, live: bool
) -> None:
    app = await run(
        make_app,
        [
            question(),
            say(ANSWER, "helper", "h", 1),
            say("ok let me try that", "asker", "f", 2),  # takes the reply up: answered
            say("thanks, that worked!", "asker", "t", 3),  # marks it: helpful
            edited("h", ".", 4),
        ],
        live=live,
    )
    assert await marks(app) == (0, 0) and await answer_of(app, "q") == ""
    await apply(app, deleted("t", 5))  # the thanks goes while the reply does not count
    await apply(app, edited("h", ANSWER, 6))
    assert await marks(app) == (0, 1) and await answer_of(app, "q") == "h"  # the follow-up still stands


async def test_a_check_mark_removed_while_the_reply_does_not_count_is_not_given_back(
    make_app: AppFactory, live: bool
) -> None:
    conversation = [question(), say(ANSWER, "helper", "h", 1), react("h", "asker", 2), edited("h", ".", 3)]
    app = await run(make_app, conversation, live=live)
    assert await marks(app) == (0, 0)
    await apply(app, react("h", "asker", 4, added=False))
    await apply(app, edited("h", ANSWER, 5))
    assert await totals(app, "helper") == {**NONE, "messages": 1, "replies": 1}
    assert await answer_of(app, "q") == ""


async def test_the_answer_a_dot_freed_goes_to_the_reply_the_asker_takes_up_next(
    make_app: AppFactory, live: bool
) -> None:
    app = await run(
        make_app,
        [
            question(),
            say(ANSWER, "helper", "h", 1),
            react("h", "asker", 2),
            edited("h", ".", 3),
            say(OTHER_ANSWER, "other", "o", 4),
            say("ok let me try that", "asker", "f", 5),  # takes the other reply up
        ],
        live=live,
    )
    assert await marks(app, "other") == (0, 1) and await answer_of(app, "q") == "o"
    # Edited back, the helper's reply gets its ✅'s mark back; the answer has moved on.
    await apply(app, edited("h", ANSWER, 6))
    assert await marks(app) == (1, 0) and await marks(app, "other") == (0, 1)
    assert await answer_of(app, "q") == "o"


# -- 2. a thread is started by a root that counts and a reply that counts from someone else -----------
async def test_a_thread_whose_only_reply_was_deleted_is_no_thread_started(make_app: AppFactory, live: bool) -> None:
    app = await run(make_app, [question(), say(ANSWER, "alt", "h", 1), deleted("h", 3)], live=live)
    assert (await totals(app, "alt"))["replies"] == 0
    assert await totals(app, "asker") == {**NONE, "messages": 1}
    await apply(app, deleted("h", 3))  # redelivered
    await apply(app, say(ANSWER, "alt", "h", 1))  # a late redelivery of the reply itself
    assert await totals(app, "asker") == {**NONE, "messages": 1}


async def test_a_thread_keeps_its_credit_while_another_members_reply_counts(make_app: AppFactory, live: bool) -> None:
    conversation = [
        question(),
        say(ANSWER, "helper", "h", 1),
        say(OTHER_ANSWER, "other", "o", 2),
        say("any other ideas on this one?", "asker", "a", 3),  # the asker's own word starts nothing
    ]
    app = await run(make_app, [*conversation, deleted("h", 4)], live=live)
    assert (await totals(app, "asker"))["threads"] == 1  # the other member's reply still counts
    await apply(app, deleted("o", 5))
    assert (await totals(app, "asker"))["threads"] == 0


async def test_a_thread_whose_only_reply_was_edited_to_a_dot_is_started_again_when_edited_back(
    make_app: AppFactory, live: bool
) -> None:
    app = await run(make_app, [question(), say(ANSWER, "alt", "h", 1), edited("h", ".", 2)], live=live)
    assert (await totals(app, "asker"))["threads"] == 0
    await apply(app, edited("h", ".", 2))  # redelivered
    assert (await totals(app, "asker"))["threads"] == 0
    await apply(app, edited("h", ANSWER, 3))
    await apply(app, edited("h", ANSWER, 3))  # redelivered
    assert (await totals(app, "asker"))["threads"] == 1


async def test_a_root_edited_under_min_words_loses_its_thread_credit(make_app: AppFactory, live: bool) -> None:
    app = await run(make_app, [question(), say(ANSWER, "alt", "h", 1), edited("q", "x", 3)], live=live)
    assert await totals(app, "asker") == NONE  # "x" answered is no more a thread than "hmm" answered
    assert (await totals(app, "alt"))["replies"] == 1  # the replier's credit is not the root's
    await apply(app, edited("q", "x", 3))  # redelivered
    assert await totals(app, "asker") == NONE
    # Edited back into a question, it counts with its reply again: the thread is started again, once.
    await apply(app, edited("q", "why does my build fail on this step?", 4))
    await apply(app, edited("q", "why does my build fail on this step?", 4))
    assert await totals(app, "asker") == {**NONE, "messages": 1, "threads": 1}


# -- 3. a thread credit taken back frees its place under the daily cap --------------------------------
async def test_a_thread_credit_taken_back_frees_its_place_under_the_daily_cap(store: Store) -> None:
    counters = ActivityCounters(store, UTC)  # one worker throughout: what it remembers must follow

    async def feed(events: list[Event]) -> None:
        await Recorder(store).handle_batch(events)
        for event in events:
            await counters.apply([event])

    for n in range(STARTED_THREADS_PER_DAY):
        await feed(answered_question("asker", n, n * 2.0))
    assert (await store_totals(store, "asker"))["threads"] == STARTED_THREADS_PER_DAY
    await feed([deleted("asker-a0", 30), edited("asker-q1", "x", 31)])
    await feed([deleted("asker-a0", 30), edited("asker-q1", "x", 31)])  # redelivered
    assert (await store_totals(store, "asker"))["threads"] == STARTED_THREADS_PER_DAY - 2
    # Two places are free again, and no more than two.
    for n in range(10, 13):
        await feed(answered_question("asker", n, 32.0 + n * 2))
    assert (await store_totals(store, "asker"))["threads"] == STARTED_THREADS_PER_DAY
