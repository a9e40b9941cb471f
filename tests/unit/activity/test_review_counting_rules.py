"""Threads opened without a starter message, the per-minute cap under edits, "members active", and
the purge of alert state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.events import Event, MessageDeleted, MessageEdited, ReactionAdded, ThreadCreated
from bot.store import Store
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, user
from brain.activity.alert_state import ALERT_STATE_KEPT_S, AlertLedger, purge_alerts
from brain.activity.counters import ActivityCounters
from brain.activity.scan import open_questions
from tests.unit.activity.counting import ANSWER, UTC, apply, totals


def _standalone_thread(*, thanks: bool = True) -> list[Event]:
    """A thread opened without a starter message (Discord's "Create Thread", a private thread): its
    id is no message's."""
    events: list[Event] = [
        ThreadCreated(
            parent=channel("help"), thread_id="T1", title="poetry lock fails", author=user("asker"), ts=BASE_TIME
        ),
        make_message(
            "how do I fix poetry lock errors on 3.12?", author="asker", chan="help", message_id="q1", thread_id="T1"
        ),
        make_message(ANSWER, author="helper", chan="help", message_id="a1", thread_id="T1", minutes=1),
    ]
    if thanks:
        events.append(
            make_message(
                "thanks, that worked perfectly for me",
                author="asker",
                chan="help",
                message_id="t1",
                thread_id="T1",
                minutes=2,
            )
        )
    return events


@pytest.mark.parametrize("mode", ["one batch", "live", "restarts"])
async def test_thread_without_starter_message_earns_credits(store: Store, mode: str) -> None:
    await apply(store, _standalone_thread(), mode=mode)
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
    helper, asker = await totals(store, "helper"), await totals(store, "asker")
    assert (helper["replies"], helper["helpful"], helper["answered"], helper["reactions"]) == (1, 1, 1, 1)
    # The thread's stand-in root is no message: the asker's two messages are.
    assert (asker["threads"], asker["messages"]) == (1, 2)


async def test_thread_without_starter_message_is_a_question(store: Store) -> None:
    await apply(store, _standalone_thread()[:2], mode="live")
    found = await open_questions(store, "console", "local", BASE_TIME.timestamp() - 60)
    assert [(q.message_id, q.author_id, q.answered) for q in found] == [("T1", "asker", False)]
    await apply(store, _standalone_thread(thanks=False)[2:], mode="live")
    found = await open_questions(store, "console", "local", BASE_TIME.timestamp() - 60)
    assert [(q.message_id, q.answered) for q in found] == [("T1", True)]


async def test_starter_message_overtaken_by_its_thread_takes_the_root(store: Store) -> None:
    """A thread opened from a message has the message's id: delivered after ThreadCreated, the
    message replaces the stand-in and counts once."""
    events: list[Event] = [
        ThreadCreated(parent=channel("help"), thread_id="q1", title="lock", author=user("asker"), ts=BASE_TIME),
        make_message("how do I fix poetry lock errors on 3.12?", author="asker", chan="help", message_id="q1"),
        make_message(ANSWER, author="helper", chan="help", message_id="a1", thread_id="q1", minutes=1),
    ]
    await apply(store, events, mode="live")
    asker = await totals(store, "asker")
    assert (asker["messages"], asker["threads"]) == (1, 1)
    assert (await totals(store, "helper"))["replies"] == 1


@pytest.mark.parametrize("mode", ["live", "two workers"])
async def test_per_minute_cap_holds_for_short_messages_edited_long(store: Store, mode: str) -> None:
    # Five counted messages, then three "ok" in the same minute, edited long later: the cap (5) holds.
    events: list[Event] = [
        make_message(
            "ok" if i >= 5 else f"long enough message number {i}",
            author="spammer",
            chan="general",
            message_id=f"s{i}",
            minutes=i / 100,
        )
        for i in range(8)
    ]
    events += [
        MessageEdited(
            channel=channel("general"),
            message_id=f"s{i}",
            text=f"now a long enough message {i}",
            edited_at=BASE_TIME + timedelta(minutes=5),
            author=user("spammer"),
        )
        for i in range(5, 8)
    ]
    await apply(store, events, mode=mode)
    assert (await totals(store, "spammer"))["messages"] == 5


async def test_short_messages_do_not_count_toward_the_cap(store: Store) -> None:
    # "ok" x 5 and then a real message in the same minute: only messages that count go toward the
    # cap (a short one edited long is checked against its minute when edited).
    events: list[Event] = [
        make_message("ok", author="spammer", chan="general", message_id=f"s{i}", minutes=i / 100) for i in range(5)
    ]
    events.append(
        make_message(
            "a long enough message after them", author="spammer", chan="general", message_id="s5", minutes=0.05
        )
    )
    await apply(store, events, mode="live")
    assert (await totals(store, "spammer"))["messages"] == 1


async def test_members_active_leaves_out_members_whose_activity_was_deleted(make_app) -> None:  # type: ignore[no-untyped-def]
    app, adapter = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=1)))
    await adapter.inject(
        make_message("how do I fix poetry lock errors?", author="asker", chan="general", message_id="q1")
    )
    await adapter.inject(
        make_message(ANSWER, author="helper", chan="general", message_id="a1", thread_id="q1", minutes=1)
    )
    await adapter.inject(
        make_message("spam spam spam spam spam", author="ghost", chan="general", message_id="g1", minutes=2)
    )
    await app.bus.drain()
    await adapter.inject(MessageDeleted(channel=channel("general"), message_id="g1"))
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    board = await brain.board("console", "local", "week")
    assert board.members == 2


async def test_alert_state_long_quiet_is_purged(store: Store) -> None:
    now = BASE_TIME.timestamp()
    ledger = AlertLedger(store, "console", "local")
    await ledger.decide("burst:general:redis", 10, now - ALERT_STATE_KEPT_S - 3600)
    await ledger.decide("burst:general:poetry", 10, now - 3600)
    assert await purge_alerts(store, "console", "local", now) >= 1
    rows = await store.db.fetchall("SELECT alert_key FROM activity_alerts")
    assert [r[0] for r in rows] == ["burst:general:poetry"]
    posts = await store.db.fetchall("SELECT alert_key FROM activity_alert_posts")
    assert [r[0] for r in posts] == ["burst:general:poetry"]


async def test_retention_purges_alert_state(make_app) -> None:  # type: ignore[no-untyped-def]
    app, _ = await make_app(brains=["activity"], clock=FakeClock(BASE_TIME))
    now = BASE_TIME.timestamp()
    await AlertLedger(app.store, "console", "local").decide("burst:general:redis", 10, now - 10 * 86400)
    brain = next(b for b in app.brains if b.name == "activity")
    assert ("console", "local") in await brain.retention_workspaces()
    await brain.purge_before(now - 365 * 86400, platform="console", workspace_id="local")
    assert await app.store.db.fetchall("SELECT alert_key FROM activity_alerts") == []
