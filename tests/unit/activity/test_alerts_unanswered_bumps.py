"""An unanswered pile-up counts questions whose threads hold only "+1"s: a bump is no answer, and
the questions many members share are the ones the admins most need to see."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.events import Event
from bot.recorder import Recorder
from bot.store import Store
from bot.testing import make_message
from bot.testing.builders import BASE_TIME
from brain.activity.counters import ActivityCounters
from brain.activity.scan import open_questions
from tests.store_backends import fresh_store

ANSWER = "set the timeout on the client session, then retry with backoff"


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    async with fresh_store("sqlite") as s:
        yield s


async def apply(store: Store, events: Sequence[Event]) -> None:
    await Recorder(store).handle_batch(events)
    await ActivityCounters(store, ZoneInfo("UTC")).apply(events)


async def test_a_thread_of_bumps_leaves_its_question_unanswered(store: Store) -> None:
    events: list[Event] = [
        make_message("why does the docker build fail on arm?", author="asker", chan="help", message_id="q1"),
        make_message("+1", author="b1", chan="help", message_id="q1b1", thread_id="q1", minutes=1),
        make_message("same here", author="b2", chan="help", message_id="q1b2", thread_id="q1", minutes=2),
        make_message("how do I pin the python version?", author="asker2", chan="help", message_id="q2", minutes=3),
        make_message(ANSWER, author="helper", chan="help", message_id="q2a", thread_id="q2", minutes=4),
    ]
    await apply(store, events)
    flags = {q.message_id: q.answered for q in await open_questions(store, "console", "local", 0.0)}
    assert flags == {"q1": False, "q2": True}
    # Once someone really answers, it is answered.
    await apply(
        store, [make_message(ANSWER, author="helper", chan="help", message_id="q1a", thread_id="q1", minutes=9)]
    )
    flags = {q.message_id: q.answered for q in await open_questions(store, "console", "local", 0.0)}
    assert flags == {"q1": True, "q2": True}


async def test_a_deleted_answer_leaves_its_question_unanswered(store: Store) -> None:
    from bot.events import MessageDeleted
    from bot.testing.builders import channel

    await apply(
        store,
        [
            make_message("why does the docker build fail on arm?", author="asker", chan="help", message_id="q"),
            make_message(ANSWER, author="helper", chan="help", message_id="a", thread_id="q", minutes=1),
        ],
    )
    gone = MessageDeleted(channel=channel("help"), message_id="a", deleted_at=BASE_TIME + timedelta(minutes=2))
    await apply(store, [gone])
    assert [q.answered for q in await open_questions(store, "console", "local", 0.0)] == [False]
