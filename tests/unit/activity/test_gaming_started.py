"""Asking is not helping: "thread started" credit is capped per member and local day, so an account
posting question after question does not outscore the members who answer them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

import pytest

from bot.events import Event, MessageDeleted, MessageEdited
from bot.recorder import Recorder
from bot.store import Store
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel
from brain.activity.counters import ActivityCounters
from brain.activity.leaderboard import leaderboard, window_for
from brain.activity.scoring import STARTED_THREADS_PER_DAY
from tests.unit.activity.counting import ANSWER, UTC, apply, totals


@pytest.fixture(params=["one batch", "live", "restarts", "two workers"])
def mode(request: pytest.FixtureRequest) -> str:
    """One batch; one event per batch on one worker; one event per batch, each on a fresh worker
    (what a worker remembers must agree with what the rollups say after a restart); one event per
    batch on two workers in turn (the caps hold over both)."""
    return str(request.param)


def answered_question(asker: str, n: int, minutes: float, *, helper: str | None = None) -> list[Event]:
    """Question ``n`` of ``asker`` and a qualifying reply to it (from ``helper``, else its own member)."""
    q = f"{asker}-q{n}"
    return [
        make_message(f"how do I fix error number {n}?", author=asker, chan="help", message_id=q, minutes=minutes),
        make_message(
            f"{ANSWER} {n}",
            author=helper or f"helper{n}",
            chan="help",
            message_id=f"{asker}-a{n}",
            thread_id=q,
            minutes=minutes + 1,
        ),
    ]


async def test_thirty_questions_a_day_earn_the_cap_and_nothing_else_changes(store: Store, mode: str) -> None:
    events: list[Event] = []
    for n in range(30):  # thirty questions in a day, two minutes apart (under the rate cap), all answered
        events += answered_question("asker", n, n * 2.0)
    await apply(store, events, mode=mode)
    asker = await totals(store, "asker")
    assert asker["threads"] == STARTED_THREADS_PER_DAY
    assert asker["messages"] == 30  # volume is still shown
    for n in range(30):  # every helper keeps their reply credit
        assert (await totals(store, f"helper{n}"))["replies"] == 1


async def test_asking_does_not_outscore_answering(store: Store, mode: str) -> None:
    events: list[Event] = []
    for n in range(30):
        events += answered_question("asker", n, n * 2.0)
    for n in range(2):  # a member whose answers the askers took up: ✅ by thanks
        q = f"member{n}-q"
        events += [
            make_message("how do I pin the version?", author=f"member{n}", chan="help", message_id=q, minutes=100 + n),
            make_message(ANSWER, author="solver", chan="help", message_id=f"s{n}", thread_id=q, minutes=110 + n),
            make_message(
                "thanks, that worked!",
                author=f"member{n}",
                chan="help",
                message_id=f"t{n}",
                thread_id=q,
                minutes=120 + n,
            ),
        ]
    await apply(store, events, mode=mode)
    board = await leaderboard(store, "console", "local", window_for("all", BASE_TIME + timedelta(days=1), UTC))
    scores = {e.user_id: e.score for e in board.entries}
    assert scores["asker"] == STARTED_THREADS_PER_DAY * 0.5
    assert scores["asker"] < scores["solver"]


async def test_the_cap_is_per_local_day_of_the_question(store: Store, mode: str) -> None:
    events: list[Event] = []
    for n in range(STARTED_THREADS_PER_DAY + 1):  # one over the day's cap
        events += answered_question("asker", n, n * 2.0)
    # The next day: a new question counts, and so does nothing more for yesterday's late reply.
    events += answered_question("asker", 50, 24 * 60.0)
    events.append(
        make_message(ANSWER, author="late", chan="help", message_id="late-a", thread_id="asker-q3", minutes=24 * 60 + 5)
    )
    await apply(store, events, mode=mode)
    assert (await totals(store, "asker"))["threads"] == STARTED_THREADS_PER_DAY + 1
    assert (await totals(store, "late"))["replies"] == 1  # the replier's credit is not the asker's cap


async def test_a_deleted_question_frees_its_place(store: Store) -> None:
    counters = ActivityCounters(store, UTC)  # one worker throughout: what it remembers must follow

    async def feed(events: Sequence[Event]) -> None:
        await Recorder(store).handle_batch(events)
        for event in events:
            await counters.apply([event])

    for n in range(STARTED_THREADS_PER_DAY + 1):  # the last one is over the cap
        await feed(answered_question("asker", n, n * 2.0))
    await feed([MessageDeleted(channel=channel("help"), message_id="asker-q0", deleted_at=BASE_TIME)])
    await feed(answered_question("asker", 9, 30.0))
    assert (await totals(store, "asker"))["threads"] == STARTED_THREADS_PER_DAY


async def test_a_capped_question_answered_again_stays_capped(store: Store, mode: str) -> None:
    events: list[Event] = []
    for n in range(STARTED_THREADS_PER_DAY + 1):
        events += answered_question("asker", n, n * 2.0)
    last = f"asker-q{STARTED_THREADS_PER_DAY}"
    events.append(make_message(ANSWER, author="second", chan="help", message_id="second-a", thread_id=last, minutes=20))
    await apply(store, events, mode=mode)
    assert (await totals(store, "asker"))["threads"] == STARTED_THREADS_PER_DAY


async def test_discord_replies_and_edits_are_capped_too(store: Store, mode: str) -> None:
    events: list[Event] = []
    for n in range(STARTED_THREADS_PER_DAY + 2):  # answered with Discord's Reply button, no thread
        q = f"q{n}"
        events += [
            make_message(f"how do I fix error number {n}?", author="asker", chan="help", message_id=q, minutes=n * 2),
            dataclasses.replace(
                make_message(ANSWER, author=f"helper{n}", chan="help", message_id=f"a{n}", minutes=n * 2 + 1),
                reply_to=q,
            ),
        ]
    # A reply too short to count, edited into an answer: it earns its thread credit then, if any is left.
    last = f"q{STARTED_THREADS_PER_DAY + 2}"
    events += [
        make_message("how do I fix the last error?", author="asker", chan="help", message_id=last, minutes=30),
        make_message("one sec", author="late", chan="help", message_id="late-a", thread_id=last, minutes=31),
        MessageEdited(
            channel=channel("help"), message_id="late-a", text=ANSWER, edited_at=BASE_TIME + timedelta(minutes=32)
        ),
    ]
    await apply(store, events, mode=mode)
    assert (await totals(store, "asker"))["threads"] == STARTED_THREADS_PER_DAY
    assert (await totals(store, "late"))["replies"] == 1


async def test_a_root_edited_into_a_question_and_answered_in_one_batch_is_capped(store: Store) -> None:
    counters = ActivityCounters(store, UTC)
    earlier: list[Event] = []
    for n in range(STARTED_THREADS_PER_DAY):
        earlier += answered_question("asker", n, n * 2.0)
    await Recorder(store).handle_batch(earlier)
    await counters.apply(earlier)
    later: list[Event] = [
        make_message("hmm", author="asker", chan="help", message_id="short", minutes=20),
        MessageEdited(
            channel=channel("help"),
            message_id="short",
            text="how do I fix the proxy error?",
            edited_at=BASE_TIME + timedelta(minutes=21),
        ),
        make_message(ANSWER, author="helper", chan="help", message_id="short-a", thread_id="short", minutes=22),
    ]
    await Recorder(store).handle_batch(later[:1])
    await counters.apply(later[:1])  # the short root is recorded, counting for nothing
    await Recorder(store).handle_batch(later[1:])
    await counters.apply(later[1:])  # edited and answered in one batch
    assert (await totals(store, "asker"))["threads"] == STARTED_THREADS_PER_DAY


async def test_the_caps_are_settings_the_brain_passes_on(make_app, settings) -> None:  # type: ignore[no-untyped-def]
    # Admins tune the anti-gaming caps like activity.reply_threads_per_day, in guildhall.toml.
    from tests.unit.activity.test_weekly_post import tuned

    app, _ = await make_app(
        brains=["activity"], settings_override=tuned(settings, asker_threads_per_day=1, started_threads_per_day=5)
    )
    counters = app.brain("activity").counters
    assert (counters.asker_threads_per_day, counters.started_threads_per_day) == (1, 5)
