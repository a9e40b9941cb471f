"""Counters under edits, deletes, redelivery and the anti-gaming rules, through the real app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FakeClock
from bot.events import MessageDeleted, MessageEdited, ReactionAdded, ReactionRemoved
from bot.store import open_store
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, user
from brain.activity.brain import ActivityBrain
from brain.activity.counters import ActivityCounters
from brain.activity.scoring import local_day
from tests.conftest import AppFactory

LONG = "here is a long enough answer"


async def totals(app, who: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    row = await app.store.db.fetchone(
        "SELECT SUM(messages), SUM(replies), SUM(threads), SUM(reactions), SUM(helpful), SUM(answered) "
        "FROM activity_rollup WHERE user_id = ?",
        (who,),
    )
    names = ("messages", "replies", "threads", "reactions", "helpful", "answered")
    return {n: int(v or 0) for n, v in zip(names, row or (), strict=False)}


def react(mid: str, who: str, emoji: str = "tada", *, added: bool = True, minutes: float = 1):  # type: ignore[no-untyped-def]
    cls = ReactionAdded if added else ReactionRemoved
    return cls(
        channel=channel("help"), message_id=mid, user=user(who), emoji=emoji, ts=BASE_TIME + timedelta(minutes=minutes)
    )


async def start(make_app: AppFactory):  # type: ignore[no-untyped-def]
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=1)))
    return app, adapter


async def test_question_reply_thanks_and_reactions(make_app: AppFactory) -> None:
    app, adapter = await start(make_app)
    q = make_message("how do I fix poetry lock errors?", author="asker", chan="help", message_id="q1")
    a = make_message(LONG, author="helper", chan="help", message_id="a1", thread_id="q1", minutes=1)
    t = make_message("thanks, that worked!", author="asker", chan="help", message_id="t1", thread_id="q1", minutes=2)
    for e in (q, a, t, react("a1", "fan"), react("a1", "fan", "heart"), react("a1", "asker", "white_check_mark")):
        await adapter.inject(e)
    await app.bus.drain()
    helper = await totals(app, "helper")
    assert helper == {"messages": 1, "replies": 1, "threads": 0, "reactions": 2, "helpful": 1, "answered": 1}
    asker = await totals(app, "asker")
    assert asker["threads"] == 1 and asker["helpful"] == 0


async def test_redelivery_counts_once(make_app: AppFactory) -> None:
    app, adapter = await start(make_app)
    q = make_message("why is my build so slow today?", author="asker", chan="help", message_id="q1")
    a = make_message(LONG, author="helper", chan="help", message_id="a1", thread_id="q1", minutes=1)
    events = [q, a, react("a1", "fan")]
    for e in events:
        await adapter.inject(e)
    await app.bus.drain()
    # A fresh counter instance (as after a restart) sees the same events again: the bus cannot dedupe.
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    await brain.counters.apply(events)
    assert await totals(app, "helper") == {
        "messages": 1,
        "replies": 1,
        "threads": 0,
        "reactions": 1,
        "helpful": 0,
        "answered": 0,  # the asker has not taken the reply up (yet)
    }


async def test_delete_subtracts_exactly_and_is_idempotent(make_app: AppFactory) -> None:
    app, adapter = await start(make_app)
    await adapter.inject(
        make_message("how do I pin a dependency version?", author="asker", chan="help", message_id="q1")
    )
    await adapter.inject(make_message(LONG, author="helper", chan="help", message_id="a1", thread_id="q1", minutes=1))
    await adapter.inject(react("a1", "asker", "+1"))
    await app.bus.drain()
    assert (await totals(app, "helper"))["helpful"] == 1
    deletion = MessageDeleted(channel=channel("help"), message_id="a1", deleted_at=BASE_TIME + timedelta(minutes=5))
    await adapter.inject(deletion)
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    assert isinstance(brain, ActivityBrain)
    await brain.counters.apply([deletion])
    await brain.counters.apply([react("a1", "asker", "+1", added=False)])
    assert await totals(app, "helper") == dict.fromkeys(
        ("messages", "replies", "threads", "reactions", "helpful", "answered"), 0
    )


async def test_delete_before_post_leaves_tombstone(make_app: AppFactory) -> None:
    app, adapter = await start(make_app)
    await adapter.inject(MessageDeleted(channel=channel("help"), message_id="x1", deleted_at=BASE_TIME))
    await adapter.inject(make_message(LONG, author="ghost", chan="help", message_id="x1"))
    await app.bus.drain()
    assert (await totals(app, "ghost"))["messages"] == 0


async def test_edits_never_double_count(make_app: AppFactory) -> None:
    app, adapter = await start(make_app)
    await adapter.inject(make_message("ok", author="bob", chan="help", message_id="e1"))
    await app.bus.drain()
    assert (await totals(app, "bob"))["messages"] == 0  # too short
    for i in range(3):
        edited_at = BASE_TIME + timedelta(minutes=i + 1)
        await adapter.inject(MessageEdited(channel=channel("help"), message_id="e1", text=LONG, edited_at=edited_at))
    await app.bus.drain()
    assert (await totals(app, "bob"))["messages"] == 1
    await adapter.inject(
        MessageEdited(channel=channel("help"), message_id="e1", text="k", edited_at=BASE_TIME + timedelta(minutes=9))
    )
    await app.bus.drain()
    assert (await totals(app, "bob"))["messages"] == 0


async def test_anti_gaming_rules(make_app: AppFactory) -> None:
    app, adapter = await start(make_app)
    bot = user("robot", bot=True)
    await adapter.inject(make_message("is anyone around to help me?", author="asker", chan="help", message_id="q1"))
    # Eight long replies in the same minute: only per_minute_cap (5) count.
    for i in range(8):
        await adapter.inject(
            make_message(
                f"{LONG} number {i}", author="spammer", chan="help", message_id=f"s{i}", thread_id="q1", minutes=1
            )
        )
    await adapter.inject(
        make_message("too short", author="short", chan="help", message_id="sh", thread_id="q1", minutes=2)
    )
    await adapter.inject(make_message(LONG, author=bot, chan="help", message_id="b1", thread_id="q1", minutes=2))
    await adapter.inject(make_message(LONG, author="selfie", chan="help", message_id="me1", minutes=3))
    await adapter.inject(react("me1", "selfie", "+1"))  # self-reaction
    await adapter.inject(react("me1", "fan", "+1"))
    await adapter.inject(react("me1", "fan", "heart"))  # same member again: one reaction per member
    await adapter.inject(ReactionAdded(channel=channel("help"), message_id="me1", user=bot, emoji="heart"))
    await app.bus.drain()
    assert (await totals(app, "spammer"))["messages"] == 5
    assert (await totals(app, "spammer"))["replies"] == 1  # one reply credit per thread
    assert (await totals(app, "short")) == dict.fromkeys(
        ("messages", "replies", "threads", "reactions", "helpful", "answered"), 0
    )
    assert (await totals(app, "robot"))["messages"] == 0
    assert (await totals(app, "selfie"))["reactions"] == 1
    # Removing one of fan's two emoji keeps the reaction; removing both drops it.
    await adapter.inject(react("me1", "fan", "heart", added=False, minutes=4))
    await app.bus.drain()
    assert (await totals(app, "selfie"))["reactions"] == 1
    await adapter.inject(react("me1", "fan", "+1", added=False, minutes=5))
    await app.bus.drain()
    assert (await totals(app, "selfie"))["reactions"] == 0


async def test_odd_unicode_and_huge_messages(make_app: AppFactory) -> None:
    app, adapter = await start(make_app)
    await adapter.inject(
        make_message("Как исправить ошибку импорта модуля? 🐍\u200b\x00", author="ivan", chan="help", message_id="u1")
    )
    await adapter.inject(make_message("word " * 50_000, author="huge", chan="help", message_id="u2"))
    await adapter.inject(make_message("🎉🎉🎉🎉🎉🎉", author="emoji", chan="help", message_id="u3"))
    await app.bus.drain()
    assert (await totals(app, "ivan"))["messages"] == 1
    assert (await totals(app, "huge"))["messages"] == 1
    assert (await totals(app, "emoji"))["messages"] == 0


async def test_days_follow_the_community_time_zone(make_app: AppFactory, settings) -> None:  # type: ignore[no-untyped-def]
    tokyo = settings.model_copy(update={"timezone": "Asia/Tokyo"})
    app, adapter = await make_app(brains=["activity"], settings_override=tokyo)
    late_utc = datetime(2026, 1, 5, 20, 30, tzinfo=UTC)  # 05:30 on Jan 6 in Tokyo
    await adapter.inject(make_message(LONG, author="kei", chan="help", message_id="tz1", ts=late_utc))
    await app.bus.drain()
    row = await app.store.db.fetchone("SELECT day FROM activity_rollup WHERE user_id = 'kei'")
    assert row is not None and row[0] == "2026-01-06"


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham"])
async def test_cached_local_days_match_the_time_zone_across_midnights_and_dst(zone: str) -> None:
    # Rollup days are cached per UTC quarter hour; zones with :45 and :30 offsets and half-hour
    # DST shifts must still get the exact local day of every message.
    tz = ZoneInfo(zone)
    store = await open_store("sqlite://:memory:")
    try:
        counters = ActivityCounters(store, tz)
        start = datetime(2024, 3, 30, tzinfo=UTC)
        for step in range(0, 60 * 24 * 45, 7):  # every 7 minutes over 45 days (both DST changes in some zones)
            when = start + timedelta(minutes=step)
            assert counters._day(when, when.timestamp()) == local_day(when, tz), when
    finally:
        await store.close()
