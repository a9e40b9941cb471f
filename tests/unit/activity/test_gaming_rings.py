"""Two accounts marking each other's answers: the asker's ✅ and thanks carry the most weight, so an
alt asking question after question for its friend to answer must not buy the top of the board."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

import pytest

from bot.events import Event, MessageDeleted, ReactionAdded, ReactionRemoved
from bot.recorder import Recorder
from bot.store import Store
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, user
from brain.activity.counters import ActivityCounters
from brain.activity.leaderboard import leaderboard, window_for
from brain.activity.scoring import ASKER_THREADS_PER_DAY
from tests.unit.activity.counting import ANSWER, UTC, totals
from tests.unit.activity.counting import apply as apply_in


@pytest.fixture(params=["one batch", "live", "two workers"])
def mode(request: pytest.FixtureRequest) -> str:
    """How the events are counted: see tests.unit.activity.counting.apply."""
    return str(request.param)


async def apply(store: Store, events: Sequence[Event], *, mode: str) -> None:
    """Record and count ``events`` as ``mode`` says (tests.unit.activity.counting.apply)."""
    await apply_in(store, events, mode=mode)


def check(mid: str, who: str, minutes: float) -> ReactionAdded:
    return ReactionAdded(
        channel=channel("help"),
        message_id=mid,
        user=user(who),
        emoji="white_check_mark",
        ts=BASE_TIME + timedelta(minutes=minutes),
    )


def replying(event: Event, to: str) -> Event:
    """``event`` sent with Discord's Reply button on message ``to``."""
    return dataclasses.replace(event, reply_to=to)  # type: ignore[type-var]


def marked_answer(asker: str, helper: str, n: int, minutes: float, *, thanks: bool = False) -> list[Event]:
    """Question ``n`` of ``asker``, answered by ``helper`` and ✅'d (and thanked) by the asker."""
    q, a = f"{asker}-q{n}", f"{asker}-a{n}"
    events: list[Event] = [
        make_message(f"how do I fix error number {n}?", author=asker, chan="help", message_id=q, minutes=minutes),
        make_message(f"{ANSWER} {n}", author=helper, chan="help", message_id=a, thread_id=q, minutes=minutes + 1),
        check(a, asker, minutes + 2),
    ]
    if thanks:
        events.append(
            make_message(
                "thanks, that worked!", author=asker, chan="help", message_id=f"{q}-t", thread_id=q, minutes=minutes + 3
            )
        )
    return events


@pytest.mark.parametrize("mode", ["one batch", "live", "restarts", "two workers"])
async def test_deleting_each_question_after_the_mark_does_not_free_its_place(store: Store, mode: str) -> None:
    # The loop "alt asks, friend answers, alt ✅s, alt deletes the question" freed the question's
    # place under the cap while the friend kept the credit: ten loops gave ten marks and answers.
    events: list[Event] = []
    for n in range(10):
        events += marked_answer("alt", "farmer", n, n * 5.0)
        events.append(
            MessageDeleted(
                channel=channel("help"), message_id=f"alt-q{n}", deleted_at=BASE_TIME + timedelta(minutes=n * 5 + 4)
            )
        )
    events += marked_answer("member", "helper", 0, 100.0)  # a real asker who deletes a solved question
    events.append(
        MessageDeleted(channel=channel("help"), message_id="member-q0", deleted_at=BASE_TIME + timedelta(minutes=110))
    )
    await apply_in(store, events, mode=mode)
    farmer = await totals(store, "farmer")
    assert (farmer["helpful"], farmer["answered"]) == (ASKER_THREADS_PER_DAY, ASKER_THREADS_PER_DAY)
    helper = await totals(store, "helper")
    assert (helper["helpful"], helper["answered"]) == (1, 1)  # the answer keeps its credit


async def test_an_alt_marking_its_friends_answers_earns_them_little(store: Store, mode: str) -> None:
    events: list[Event] = []
    for n in range(30):  # thirty questions in 90 minutes, each ✅'d and thanked on the friend's reply
        events += marked_answer("alt", "farmer", n, n * 3.0, thanks=n % 2 == 0)
    for n in range(3):  # a real helper: three members' questions, one each
        events += marked_answer(f"member{n}", "helper", n, 200 + n * 5)
    await apply(store, events, mode=mode)
    farmer = await totals(store, "farmer")
    assert (farmer["helpful"], farmer["answered"]) == (ASKER_THREADS_PER_DAY, ASKER_THREADS_PER_DAY)
    helper = await totals(store, "helper")
    assert (helper["helpful"], helper["answered"]) == (3, 3)
    board = await leaderboard(store, "console", "local", window_for("all", BASE_TIME + timedelta(days=1), UTC))
    scores = {e.user_id: e.score for e in board.entries}
    # Bounded: the daily reply and reaction caps plus two questions' worth, not 8 points a question.
    assert scores["farmer"] <= 10 + 10 + ASKER_THREADS_PER_DAY * 8


async def test_the_cap_is_per_asker_and_per_day(store: Store, mode: str) -> None:
    events: list[Event] = []
    for n in range(3):
        events += marked_answer("asker", "helper", n, n * 3.0)  # the third is over the day's cap
    events += marked_answer("other", "helper", 9, 20.0)  # another member: counts
    events += marked_answer("asker", "helper", 5, 24 * 60.0)  # the asker's next day: counts
    await apply(store, events, mode=mode)
    helper = await totals(store, "helper")
    assert (helper["helpful"], helper["answered"]) == (4, 4)


@pytest.mark.parametrize("undo", ["delete", "unmark"])
async def test_a_deleted_or_unmarked_answer_frees_its_place(store: Store, undo: str) -> None:
    counters = ActivityCounters(store, UTC)  # one worker throughout: what it remembers must follow

    async def feed(events: Sequence[Event]) -> None:
        await Recorder(store).handle_batch(events)
        for event in events:
            await counters.apply([event])

    for n in range(ASKER_THREADS_PER_DAY):
        await feed(marked_answer("asker", "helper", n, n * 3.0))
    when = BASE_TIME + timedelta(minutes=30)
    first = "asker-a0"
    gone: Event = (
        MessageDeleted(channel=channel("help"), message_id=first, deleted_at=when)
        if undo == "delete"
        else ReactionRemoved(
            channel=channel("help"), message_id=first, user=user("asker"), emoji="white_check_mark", ts=when
        )
    )
    await feed([gone])
    await feed(marked_answer("asker", "helper", 7, 40.0))
    helper = await totals(store, "helper")
    assert (helper["helpful"], helper["answered"]) == (ASKER_THREADS_PER_DAY, ASKER_THREADS_PER_DAY)


async def test_thanks_alone_are_capped_too(store: Store, mode: str) -> None:
    events: list[Event] = []
    for n in range(5):  # no ✅: the asker's thanks mark each reply, and a Discord Reply aims them
        q, a = f"q{n}", f"a{n}"
        events += [
            make_message(f"how do I fix error number {n}?", author="alt", chan="help", message_id=q, minutes=n * 3),
            replying(make_message(ANSWER, author="farmer", chan="help", message_id=a, minutes=n * 3 + 1), q),
            replying(
                make_message("thanks, that worked!", author="alt", chan="help", message_id=f"t{n}", minutes=n * 3 + 2),
                a,
            ),
        ]
    await apply(store, events, mode=mode)
    farmer = await totals(store, "farmer")
    assert (farmer["helpful"], farmer["answered"]) == (ASKER_THREADS_PER_DAY, ASKER_THREADS_PER_DAY)
