"""A thread opened on someone else's message, delivered before that message, credits the message's
author (not the thread's opener); threads opened on a bot's message get no stand-in root; and the
per-minute cap counts only messages that qualify, with a short message edited long checked against
its minute when edited."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.events import ChannelRef, Event, EventSource, MessageEdited, Platform, ReactionAdded, ThreadCreated, UserRef
from bot.recorder import Recorder
from bot.store import Store
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, user
from brain.activity.counters import ActivityCounters
from tests.unit.activity.counting import ANSWER, UTC, apply, totals

QUESTION = "how do I fix poetry lock errors on python 3.12 please?"
_DISCORD_EPOCH_MS = 1420070400000


def _snowflake(when: datetime) -> str:
    """A Discord id made at ``when``."""
    return str((int(when.timestamp() * 1000) - _DISCORD_EPOCH_MS) << 22)


def _ch(name: str, *, discord: bool = False) -> ChannelRef:
    return channel(name, platform=Platform.DISCORD, workspace="g1") if discord else channel(name)


def _u(name: str, *, discord: bool = False, bot: bool = False) -> UserRef:
    return user(name, platform=Platform.DISCORD, workspace="g1", bot=bot) if discord else user(name, bot=bot)


def _opened_on_alices_message(thread_id: str = "m1", *, discord: bool = False) -> list[Event]:
    """Bob opens a thread on Alice's message; ThreadCreated comes before the message; Carol replies."""
    help_ = _ch("help", discord=discord)
    return [
        ThreadCreated(
            parent=help_,
            thread_id=thread_id,
            title="poetry lock errors on python",
            author=_u("bob", discord=discord),
            ts=BASE_TIME + timedelta(minutes=5),
        ),
        make_message(QUESTION, author=_u("alice", discord=discord), chan=help_, message_id=thread_id),
        make_message(
            ANSWER,
            author=_u("carol", discord=discord),
            chan=help_,
            message_id="a1",
            thread_id=thread_id,
            minutes=6,
        ),
    ]


async def _count_only(store: Store, events: list[Event], *, mode: str) -> None:
    """Count without the recorder having seen the messages (it runs on a queue of its own)."""
    counters = ActivityCounters(store, UTC)
    for batch in [events] if mode == "one batch" else [[e] for e in events]:
        await counters.apply(batch)


async def _who(store: Store) -> tuple[tuple[int, int], ...]:
    out = []
    for name in ("alice", "bob", "carol"):
        t = await totals(store, name)
        out.append((t["messages"], t["threads"]))
    return tuple(out)


@pytest.mark.parametrize("mode", ["one batch", "live"])
async def test_thread_opened_on_someone_elses_message_overtaken(store: Store, mode: str) -> None:
    # The recorder has the message: the thread has a starter, no stand-in is made.
    await apply(store, _opened_on_alices_message(), mode=mode)
    assert await _who(store) == ((1, 1), (0, 0), (1, 0))
    assert (await totals(store, "carol"))["replies"] == 1


@pytest.mark.parametrize("mode", ["one batch", "live"])
async def test_starter_message_replaces_the_stand_in_fully(store: Store, mode: str) -> None:
    # Nothing tells the thread has a starter: a stand-in is made for Bob, then Alice's message
    # takes it over (author, channel, day, and the thread-started credit Carol's reply gave).
    events = _opened_on_alices_message()
    events = [events[0], events[2], events[1]] if mode == "live" else events
    await _count_only(store, events, mode=mode)
    assert await _who(store) == ((1, 1), (0, 0), (1, 0))
    row = await store.db.fetchone(
        "SELECT author_id, channel_id, standin, messages, threads, ts FROM activity_contrib WHERE message_id = 'm1'"
    )
    assert row is not None and tuple(row[:5]) == ("alice", "help", 0, 1, 1)
    assert float(row[5]) == BASE_TIME.timestamp()
    rollups = await store.db.fetchall("SELECT user_id, SUM(threads) FROM activity_rollup GROUP BY user_id")
    assert {str(u): int(n) for u, n in rollups if int(n)} == {"alice": 1}


@pytest.mark.parametrize("mode", ["one batch", "live"])
async def test_discord_thread_opened_on_a_message_gets_no_stand_in(store: Store, mode: str) -> None:
    # A Discord thread opened on a message has that message's id, older than the thread: no stand-in.
    await _count_only(store, _opened_on_alices_message(_snowflake(BASE_TIME), discord=True), mode=mode)
    assert await _who(store) == ((1, 1), (0, 0), (1, 0))


async def test_discord_thread_without_starter_gets_a_stand_in(store: Store) -> None:
    help_ = _ch("help", discord=True)
    bob, carol = _u("bob", discord=True), _u("carol", discord=True)
    tid = _snowflake(BASE_TIME)
    events: list[Event] = [
        ThreadCreated(parent=help_, thread_id=tid, title="poetry lock fails on python", author=bob, ts=BASE_TIME),
        make_message(QUESTION, author=bob, chan=help_, message_id="q1", thread_id=tid, minutes=0.5),
        make_message(ANSWER, author=carol, chan=help_, message_id="a1", thread_id=tid, minutes=1),
    ]
    await _count_only(store, events, mode="live")
    bob_t, carol_t = await totals(store, "bob"), await totals(store, "carol")
    assert (bob_t["threads"], bob_t["messages"], carol_t["replies"]) == (1, 1, 1)


@pytest.mark.parametrize("discord", [False, True])
async def test_no_reply_credit_under_a_bots_announcement_thread(store: Store, discord: bool) -> None:
    news = _ch("news", discord=discord)
    mid = _snowflake(BASE_TIME) if discord else "m2"
    events: list[Event] = [
        make_message(
            "Weekly release notes are out, discuss below please friends",
            author=_u("botty", discord=discord, bot=True),
            chan=news,
            message_id=mid,
        ),
        ThreadCreated(
            parent=news,
            thread_id=mid,
            title="release notes",
            author=_u("bob", discord=discord),
            ts=BASE_TIME + timedelta(minutes=1),
        ),
        make_message(ANSWER, author=_u("carol", discord=discord), chan=news, message_id="a2", thread_id=mid, minutes=2),
    ]
    if discord:
        await _count_only(store, events, mode="live")  # the snowflake says it, recorded or not
    else:
        await apply(store, events, mode="live")
    assert (await totals(store, "carol"))["replies"] == 0
    assert (await totals(store, "bob"))["threads"] == 0


async def test_imported_thread_is_not_judged_by_its_id(store: Store) -> None:
    # An import's ThreadCreated has its first message's time: its id's time says nothing.
    help_ = _ch("help", discord=True)
    bob, carol = _u("bob", discord=True), _u("carol", discord=True)
    tid = _snowflake(BASE_TIME)
    events: list[Event] = [
        ThreadCreated(
            parent=help_,
            thread_id=tid,
            title="poetry lock fails on python",
            author=bob,
            ts=BASE_TIME + timedelta(minutes=3),
            source=EventSource.IMPORT,
        ),
        make_message(QUESTION, author=bob, chan=help_, message_id="q1", thread_id=tid, minutes=3),
        make_message(ANSWER, author=carol, chan=help_, message_id="a1", thread_id=tid, minutes=4),
    ]
    await apply(store, events, mode="live")
    assert (await totals(store, "carol"))["replies"] == 1


# -- the per-minute cap --------------------------------------------------------------------------


async def test_short_acknowledgements_do_not_cap_a_real_answer(store: Store) -> None:
    events: list[Event] = [make_message(QUESTION, author="asker", chan="help", message_id="q1")]
    for i, text in enumerate(["ok", "+1", "yes", "sure", "lol"]):
        events.append(make_message(text, author="helper", chan="general", message_id=f"s{i}", minutes=1 + i * 0.1))
    events.append(make_message(ANSWER, author="helper", chan="help", message_id="a1", thread_id="q1", minutes=1.6))
    await apply(store, events, mode="live")
    await ActivityCounters(store, UTC).apply(
        [
            ReactionAdded(
                channel=channel("help"),
                message_id="a1",
                user=user("asker"),
                emoji="white_check_mark",
                ts=BASE_TIME + timedelta(minutes=3),
            )
        ]
    )
    helper = await totals(store, "helper")
    assert (helper["messages"], helper["replies"], helper["helpful"]) == (1, 1, 1)


def _oks_edited_long(order: list[int], *, late: bool) -> list[Event]:
    events: list[Event] = [
        make_message("ok", author="spammer", chan="general", message_id=f"s{i}", minutes=i / 100) for i in range(8)
    ]
    for n, i in enumerate(order):
        events.append(
            MessageEdited(
                channel=channel("general"),
                message_id=f"s{i}",
                text=f"now a long enough message number {i}",
                edited_at=BASE_TIME + timedelta(minutes=(5 if late else 0.5) + n / 100),
                author=user("spammer"),
            )
        )
    return events


@pytest.mark.parametrize("mode", ["one batch", "live", "restarts", "two workers"])
@pytest.mark.parametrize("order", ["forward", "backward"])
@pytest.mark.parametrize("late", [False, True])
async def test_oks_edited_long_are_capped_at_edit_time(store: Store, mode: str, order: str, late: bool) -> None:
    ids = list(range(8)) if order == "forward" else list(range(7, -1, -1))
    await apply(store, _oks_edited_long(ids, late=late), mode=mode)
    assert (await totals(store, "spammer"))["messages"] == 5
    capped = await store.db.fetchone("SELECT SUM(capped) FROM activity_contrib WHERE author_id = 'spammer'")
    assert capped is not None and int(capped[0]) == 3
    # The verdict stays: edited short and long again, nothing more counts.
    again: list[Event] = []
    for text in ("ok", "now a long enough message again"):
        again += [
            MessageEdited(
                channel=channel("general"),
                message_id=f"s{i}",
                text=text,
                edited_at=BASE_TIME + timedelta(minutes=10),
                author=user("spammer"),
            )
            for i in range(8)
        ]
    await ActivityCounters(store, UTC).apply(again)
    assert (await totals(store, "spammer"))["messages"] == 5


async def test_edit_overtaking_its_short_post_is_capped(store: Store) -> None:
    # Five counted messages; then an "ok" whose edit (long) is counted before its post.
    events: list[Event] = [
        make_message(
            f"long enough message number {i}", author="spammer", chan="general", message_id=f"s{i}", minutes=i / 100
        )
        for i in range(5)
    ]
    post = make_message("ok", author="spammer", chan="general", message_id="s5", minutes=0.05)
    edit = MessageEdited(
        channel=channel("general"),
        message_id="s5",
        text="now a long enough message",
        edited_at=BASE_TIME + timedelta(minutes=2),
        author=user("spammer"),
    )
    await Recorder(store).handle_batch([*events, post, edit])
    counters = ActivityCounters(store, UTC)
    for e in [*events, edit, post]:
        await counters.apply([e])
    assert (await totals(store, "spammer"))["messages"] == 5
