"""Credits never outlive the message state that earned them: marks and thread credits go only to
messages that count, and a deleted message contributes nothing.

A marked reply edited down to "." loses its helpful mark and the question's answer, and gets back
those whose sources still stand when it is edited back (under a deleted question too); a thread whose
last reply that answers from someone else is deleted or edited away, or whose root is edited under
min_words, is no thread started (and a place under the daily cap on started threads is freed). A
forgotten member's replies (``/forget-me``) still answer: the thread they started stays started, and
an edit of theirs (it names no author) takes nothing from the question. An edit or delete that ends
nothing (a typo fixed, a "+1" deleted) decides nothing again, and what one that may is read with the
statements every batch makes.

Through the real app (its store: SQLite, or PostgreSQL with ``GUILDHALL_TEST_STORE=postgresql``);
each conversation is fed in one batch and one event per batch, as live traffic arrives. Edits and
deletes are delivered again: a redelivery changes nothing more.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.events import Event
from bot.recorder import Recorder
from bot.store import Store
from bot.testing.builders import user
from brain.activity.brain import ActivityBrain
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


# -- 4. the marks of a reply under a deleted question follow whether it counts ------------------------
async def test_a_marked_reply_under_a_deleted_question_edited_to_a_dot_loses_its_marks(
    make_app: AppFactory, live: bool
) -> None:
    conversation = [question(), say(ANSWER, "helper", "h", 1), react("h", "asker", 2), deleted("q", 3)]
    app = await run(make_app, conversation, live=live)
    assert await marks(app) == (1, 1)  # a deleted question keeps its answerer's credit
    await apply(app, edited("h", ".", 4))
    assert await marks(app) == (0, 0)  # but not on a "."
    await apply(app, edited("h", ".", 4))  # redelivered
    assert await marks(app) == (0, 0)
    await apply(app, edited("h", ANSWER, 5))  # edited back: the ✅ still stands
    assert await marks(app) == (1, 1) and await answer_of(app, "q") == "h"


# -- 5. a forgotten member's replies still answer questions -------------------------------------------
async def forget(app: Any, who: str) -> None:
    """``/forget-me`` of ``who``: their rows stay, anonymised (author '', zeroed, capped)."""
    await next(b for b in app.brains if isinstance(b, ActivityBrain)).forget_member(user(who))


async def test_a_typo_fixed_in_a_question_keeps_the_thread_its_forgotten_answerer_started(
    make_app: AppFactory, live: bool
) -> None:
    app = await run(make_app, [question(), say(ANSWER, "helper", "h", 1)], live=live)
    await forget(app, "helper")
    assert (await totals(app, "asker"))["threads"] == 1  # forgetting the helper leaves it
    await apply(app, edited("q", "why does my build fail on this step??", 5))
    assert (await totals(app, "asker"))["threads"] == 1
    await apply(app, edited("q", "x", 6))  # a root edited under min_words is still no thread
    assert (await totals(app, "asker"))["threads"] == 0
    await apply(app, edited("q", "why does my build fail on this step?", 7))  # and one again edited back
    assert (await totals(app, "asker"))["threads"] == 1


async def test_a_plus_one_deleted_keeps_the_thread_a_forgotten_answerer_started(
    make_app: AppFactory, live: bool
) -> None:
    app = await run(make_app, [question(), say(ANSWER, "helper", "h", 1), say("+1", "other", "p", 2)], live=live)
    await forget(app, "helper")
    await apply(app, deleted("p", 5))  # someone's "+1", which never counted, goes
    assert (await totals(app, "asker"))["threads"] == 1
    await apply(app, deleted("h", 6))  # the forgotten member's answer itself goes: no reply answers
    assert (await totals(app, "asker"))["threads"] == 0


async def test_an_edit_of_a_forgotten_helpers_answer_keeps_the_question_answered(
    make_app: AppFactory, live: bool
) -> None:
    app = await run(make_app, [question(), say(ANSWER, "helper", "h", 1), react("h", "asker", 2)], live=live)
    await forget(app, "helper")
    assert await answer_of(app, "q") == "h"
    await apply(app, edited("h", f"{ANSWER} (edited)", 5))  # names no author: the gate lets it through
    assert await answer_of(app, "q") == "h"
    # The asker's next word hands no second answer to someone else.
    await apply(app, say(OTHER_ANSWER, "other", "o", 6), say("ok let me try that", "asker", "f", 7))
    assert await marks(app, "other") == (0, 0) and await answer_of(app, "q") == "h"
    await apply(app, edited("h", ".", 8))  # nor does one down to "."
    assert await answer_of(app, "q") == "h"
    assert (await totals(app, "asker"))["threads"] == 1  # another member's reply still answers


# -- 6. deciding a thread credit again costs no statement of its own ----------------------------------
class _Reads:
    """A transaction that counts the statements read through it."""

    def __init__(self, tx: Any) -> None:
        self.tx = tx
        self.reads = 0

    async def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        self.reads += 1
        return list(await self.tx.fetchall(sql, params))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)


async def reads(
    store: Store, counters: ActivityCounters, events: Sequence[Event], monkeypatch: pytest.MonkeyPatch
) -> int:
    """Record and count ``events`` in one batch; the statements ``counters`` read with to do it."""
    await Recorder(store).handle_batch(events)
    real = store.db.transaction
    counted: list[_Reads] = []

    @asynccontextmanager
    async def transaction(**kwargs: Any) -> AsyncIterator[_Reads]:
        async with real(**kwargs) as tx:
            counted.append(_Reads(tx))
            yield counted[-1]

    with monkeypatch.context() as patch:
        patch.setattr(store.db, "transaction", transaction)
        await counters.apply(list(events))
    return sum(r.reads for r in counted)


async def test_edits_and_deletes_in_more_threads_read_no_more(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    counters = ActivityCounters(store, UTC)
    conversations = [e for n in range(10) for e in answered_question(f"asker{n}", n, n * 2.0)]
    await Recorder(store).handle_batch(conversations)
    await counters.apply(conversations)
    # Answers deleted: in one thread, then in four.
    one = await reads(store, counters, [deleted("asker0-a0", 30)], monkeypatch)
    deletes = [deleted(f"asker{n}-a{n}", 31) for n in range(1, 5)]
    assert await reads(store, counters, deletes, monkeypatch) == one
    # Edits: a typo fixed in one thread; then in four threads a typo fixed in a question, a reply and
    # two questions edited under min_words.
    one = await reads(store, counters, [edited("asker5-a5", f"{ANSWER} 5, see the docs", 32)], monkeypatch)
    edits = [
        edited("asker6-q6", "how do I fix error number 6 here?", 33),
        edited("asker7-a7", ".", 33),
        edited("asker8-q8", "x", 33),
        edited("asker9-q9", "hmm", 33),
    ]
    assert await reads(store, counters, edits, monkeypatch) == one
    # A question edited back over min_words is a thread started again.
    await reads(store, counters, [edited("asker9-q9", "how do I fix error number 9 then?", 34)], monkeypatch)
    threads = {n: (await store_totals(store, f"asker{n}"))["threads"] for n in range(10)}
    assert threads == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1, 7: 0, 8: 0, 9: 1}
