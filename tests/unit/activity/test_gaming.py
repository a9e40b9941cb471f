"""The leaderboard rewards help, not volume: the ways members game a board, and what each earns."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.events import Event, MessageDeleted, MessageEdited, ReactionAdded
from bot.recorder import Recorder
from bot.store import Store
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, user
from brain.activity.counters import ActivityCounters
from brain.activity.leaderboard import leaderboard, window_for
from brain.activity.scoring import COUNTERS, is_thanks
from tests.store_backends import fresh_store

ANSWER = "set the timeout on the client session, then retry with backoff"


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    async with fresh_store("sqlite") as s:
        yield s


async def apply(store: Store, events: Sequence[Event]) -> ActivityCounters:
    """Count ``events`` and record them, as live (the board reads which channels are public)."""
    await Recorder(store).handle_batch(events)
    counters = ActivityCounters(store, ZoneInfo("UTC"))
    await counters.apply(events)
    return counters


async def totals(store: Store, who: str) -> dict[str, int]:
    row = await store.db.fetchone(
        f"SELECT {', '.join(f'SUM({c})' for c in COUNTERS)} FROM activity_rollup WHERE user_id = ?", (who,)
    )
    return {c: int(v or 0) for c, v in zip(COUNTERS, row or (), strict=False)}


def check(mid: str, who: str, minutes: float) -> ReactionAdded:
    return ReactionAdded(
        channel=channel("help"),
        message_id=mid,
        user=user(who),
        emoji="white_check_mark",
        ts=BASE_TIME + timedelta(minutes=minutes),
    )


def with_mentions(event: Event, *ids: str) -> Event:
    return dataclasses.replace(event, mentioned_user_ids=ids)  # type: ignore[type-var]


async def test_a_helper_outranks_a_member_replying_to_every_thread(store: Store) -> None:
    events: list[Event] = []
    minute = 0.0
    for t in range(40):  # the spammer: six "same here" replies in each of 40 questions, under the rate cap
        q = f"q{t}"
        events.append(
            make_message(f"how do I fix error {t}?", author=f"asker{t}", chan="help", message_id=q, minutes=minute)
        )
        for n in range(6):
            minute += 0.25
            events.append(
                make_message(
                    f"same here any updates {n}",
                    author="spammer",
                    chan="help",
                    message_id=f"s{t}-{n}",
                    thread_id=q,
                    minutes=minute,
                )
            )
    for t in range(3):  # the helper: three real answers, each ✅'d and thanked by its asker
        q, a = f"h{t}", f"ha{t}"
        minute += 5
        events.append(
            make_message("my client hangs forever, why?", author=f"needs{t}", chan="help", message_id=q, minutes=minute)
        )
        events.append(make_message(ANSWER, author="helper", chan="help", message_id=a, thread_id=q, minutes=minute + 1))
        events.append(check(a, f"needs{t}", minute + 2))
        events.append(
            make_message(
                "thanks, that worked!",
                author=f"needs{t}",
                chan="help",
                message_id=f"t{t}",
                thread_id=q,
                minutes=minute + 3,
            )
        )
    await apply(store, events)
    board = await leaderboard(
        store, "console", "local", window_for("all", BASE_TIME + timedelta(days=1), ZoneInfo("UTC"))
    )
    scores = {e.user_id: e.score for e in board.entries}
    assert board.entries[0].user_id == "helper" and (scores["helper"], scores["spammer"]) == (
        30.0,
        10.0,
    )  # docs/activity.md
    spammer = await totals(store, "spammer")
    assert spammer["messages"] == 240 and spammer["replies"] == 10 and spammer["answered"] == 0  # capped per day
    assert await totals(store, "helper") == {
        "messages": 3,
        "replies": 3,
        "threads": 0,
        "reactions": 3,
        "helpful": 3,
        "answered": 3,
    }


async def test_thanks_go_to_the_member_named_and_never_to_a_bump(store: Store) -> None:
    q = make_message("why does my import fail in docker?", author="asker", chan="help", message_id="q")
    a = make_message(ANSWER, author="helper", chan="help", message_id="a", thread_id="q", minutes=1)
    bump = make_message(
        "+1 same problem here", author="bystander", chan="help", message_id="b", thread_id="q", minutes=2
    )
    thanks = make_message(
        "thanks @helper that worked!", author="asker", chan="help", message_id="t", thread_id="q", minutes=3
    )
    await apply(store, [q, a, bump, with_mentions(thanks, "helper")])
    assert (await totals(store, "helper"))["helpful"] == 1 and (await totals(store, "helper"))["answered"] == 1
    assert (await totals(store, "bystander"))["helpful"] == 0


@pytest.mark.parametrize(
    "text",
    [
        "no thanks, that did not help at all",
        "not solved, same error",
        "is it solved in 2.0?",
        "thanks but it still doesn't work",
        "it worked before the upgrade, now it crashes",
    ],
)
def test_negated_or_asked_thanks_are_no_thanks(text: str) -> None:
    assert not is_thanks(text)


@pytest.mark.parametrize(
    "text", ["thanks, that worked!", "ty", "that fixed it", "Thank you so much", "solved, much appreciated"]
)
def test_thanks_are_thanks(text: str) -> None:
    assert is_thanks(text)


async def test_marking_every_message_of_a_friend_makes_one_answer(store: Store) -> None:
    events: list[Event] = [make_message("how do I deploy this thing?", author="friend_a", chan="help", message_id="q")]
    for n in range(10):
        mid = f"r{n}"
        events.append(
            make_message(
                f"{ANSWER} part {n}", author="friend_b", chan="help", message_id=mid, thread_id="q", minutes=n + 1
            )
        )
        events.append(check(mid, "friend_a", n + 1.5))
        events.append(
            make_message("ty", author="friend_a", chan="help", message_id=f"ty{n}", thread_id="q", minutes=n + 1.7)
        )
    await apply(store, events)
    friend = await totals(store, "friend_b")
    assert friend["helpful"] == 1 and friend["answered"] == 1 and friend["replies"] == 1


async def test_edits_move_the_reply_credit_with_the_text(store: Store) -> None:
    q = make_message("what does this traceback mean?", author="asker", chan="help", message_id="q")
    long = make_message(ANSWER, author="helper", chan="help", message_id="a", thread_id="q", minutes=1)
    short = make_message("one sec", author="other", chan="help", message_id="o", thread_id="q", minutes=2)
    await apply(store, [q, long, short])
    assert (await totals(store, "helper"))["replies"] == 1 and (await totals(store, "other"))["replies"] == 0
    edited = BASE_TIME + timedelta(minutes=5)
    await apply(
        store,
        [
            MessageEdited(channel=channel("help"), message_id="a", text=".", edited_at=edited),
            MessageEdited(channel=channel("help"), message_id="o", text=ANSWER, edited_at=edited),
        ],
    )
    assert (await totals(store, "helper"))["replies"] == 0 and (await totals(store, "other"))["replies"] == 1


async def test_deletes_hand_the_answer_on_and_take_a_thanks_back(store: Store) -> None:
    q = make_message("why is my build slow?", author="asker", chan="help", message_id="q")
    first = make_message(ANSWER, author="early", chan="help", message_id="a1", thread_id="q", minutes=1)
    followup = make_message(
        "which cache do you mean", author="asker", chan="help", message_id="f", thread_id="q", minutes=2
    )
    await apply(store, [q, first, followup])
    assert (await totals(store, "early"))["answered"] == 1
    gone = BASE_TIME + timedelta(minutes=3)
    later = make_message(
        f"{ANSWER} with the cache", author="late", chan="help", message_id="a2", thread_id="q", minutes=4
    )
    thanks = make_message("thanks, that worked", author="asker", chan="help", message_id="t", thread_id="q", minutes=5)
    await apply(store, [MessageDeleted(channel=channel("help"), message_id="a1", deleted_at=gone), later, thanks])
    late = await totals(store, "late")
    assert late["answered"] == 1 and late["helpful"] == 1
    await apply(
        store, [MessageDeleted(channel=channel("help"), message_id="t", deleted_at=gone + timedelta(minutes=5))]
    )
    assert (await totals(store, "late"))["helpful"] == 0


async def test_what_a_member_does_while_opted_out_counts_only_anonymously(store: Store) -> None:
    await store.set_member_setting("console", "local", "helper", "opted_out", True)
    q = make_message("why does my import fail in docker?", author="asker", chan="help", message_id="q")
    a = make_message(ANSWER, author="helper", chan="help", message_id="a", thread_id="q", minutes=1)
    await apply(store, [q, a, check("a", "asker", 2)])
    await store.set_member_setting("console", "local", "helper", "opted_out", False)  # /optin later
    assert (await totals(store, "helper"))["helpful"] == 0  # not theirs, even now
    assert (await totals(store, ""))["helpful"] == 1  # still in the community's totals
    later = make_message("how do I pin a version?", author="asker2", chan="help", message_id="q2", minutes=5)
    again = make_message(ANSWER, author="helper", chan="help", message_id="a2", thread_id="q2", minutes=6)
    await apply(store, [later, again])
    assert (await totals(store, "helper"))["replies"] == 1  # after opting back in: theirs again


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Have a great weekend everyone!", False),
        ("Did a talk on asyncio today.", False),
        ("how do I fix this import error", True),
        ("is it solved in 2.0?", True),
        ("Does anyone use poetry", True),
    ],
)
def test_a_question_word_opening_a_statement_is_no_question(text: str, asks: bool) -> None:
    from brain.activity.scoring import is_question

    assert is_question(text) is asks
