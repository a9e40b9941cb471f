"""Changes that overtake what they change (SECURITY.md): a reaction's removal delivered before its
add, an edit delivered before its post (several Redis workers, a dead worker's entries reclaimed).
The counters agree with the recorder whichever of the two runs first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.events import Event, MessageDeleted, MessageEdited, ReactionAdded, ReactionRemoved
from bot.store import Store
from bot.testing import make_message
from bot.testing.builders import BASE_TIME, channel, user
from brain.activity.counters import ActivityCounters
from tests.unit.activity.counting import ANSWER, UTC, totals


async def _one_by_one(store: Store, events: Sequence[Event], *, batches: str) -> None:
    """Count ``events`` in one batch, or one per batch (each on a fresh worker: what it keeps must be
    in the store)."""
    if batches == "one":
        await ActivityCounters(store, UTC).apply(events)
        return
    for e in events:
        await ActivityCounters(store, UTC).apply([e])


def _react(mid: str, who: str, minutes: float, *, added: bool, emoji: str = "tada") -> Event:
    kind = ReactionAdded if added else ReactionRemoved
    return kind(
        channel=channel("help"), message_id=mid, user=user(who), emoji=emoji, ts=BASE_TIME + timedelta(minutes=minutes)
    )


async def _count(store: Store, table: str) -> int:
    row = await store.db.fetchone(f"SELECT COUNT(*) FROM {table}")
    return int(row[0]) if row else 0


@pytest.mark.parametrize("batches", ["one", "each"])
async def test_removal_before_its_add_leaves_no_reaction(store: Store, batches: str) -> None:
    post = make_message(ANSWER, author="helper", chan="help", message_id="a1")
    events = [post, _react("a1", "fan", 6, added=False), _react("a1", "fan", 5, added=True)]
    await _one_by_one(store, events, batches=batches)
    assert (await totals(store, "helper"))["reactions"] == 0
    assert await _count(store, "activity_reactions") == 0


async def test_add_after_its_removal_still_counts(store: Store) -> None:
    """Taken back, then given again: the second add is later than the removal."""
    post = make_message(ANSWER, author="helper", chan="help", message_id="a1")
    events = [post, _react("a1", "fan", 5, added=True), _react("a1", "fan", 6, added=False)]
    await _one_by_one(store, [*events, _react("a1", "fan", 7, added=True)], batches="each")
    assert (await totals(store, "helper"))["reactions"] == 1


async def test_removal_of_the_askers_check_before_its_add_gives_no_mark(store: Store) -> None:
    events = [
        make_message("how do I fix poetry lock errors?", author="asker", chan="help", message_id="q1"),
        make_message(ANSWER, author="helper", chan="help", message_id="a1", thread_id="q1", minutes=1),
        _react("a1", "asker", 6, added=False, emoji="white_check_mark"),
        _react("a1", "asker", 5, added=True, emoji="white_check_mark"),
    ]
    await _one_by_one(store, events, batches="each")
    helper = await totals(store, "helper")
    assert (helper["helpful"], helper["answered"], helper["reactions"]) == (0, 0, 0)


@pytest.mark.parametrize("batches", ["one", "each"])
async def test_edit_before_its_post_is_counted_with_the_post(store: Store, batches: str) -> None:
    edit = MessageEdited(
        channel=channel("help"),
        message_id="a1",
        text=".",
        edited_at=BASE_TIME + timedelta(minutes=1),
        author=user("helper"),
    )
    await _one_by_one(
        store, [edit, make_message(ANSWER, author="helper", chan="help", message_id="a1")], batches=batches
    )
    assert (await totals(store, "helper"))["messages"] == 0  # edited down to "." before it was counted
    assert await _count(store, "activity_pending_edits") == 0  # taken by the post


async def test_edit_before_its_post_gives_the_credit_the_edited_text_earns(store: Store) -> None:
    q = make_message("how do I fix poetry lock errors?", author="asker", chan="help", message_id="q1")
    edit = MessageEdited(
        channel=channel("help"),
        message_id="a1",
        text=ANSWER,
        edited_at=BASE_TIME + timedelta(minutes=2),
        author=user("helper"),
        thread_id="q1",
    )
    a = make_message("one sec", author="helper", chan="help", message_id="a1", thread_id="q1", minutes=1)
    await _one_by_one(store, [q, edit, a], batches="each")
    helper = await totals(store, "helper")
    assert (helper["messages"], helper["replies"]) == (1, 1)
    assert (await totals(store, "asker"))["threads"] == 1


async def test_reply_edited_down_before_its_post_earns_nothing(store: Store) -> None:
    q = make_message("how do I fix poetry lock errors?", author="asker", chan="help", message_id="q1")
    edit = MessageEdited(
        channel=channel("help"), message_id="a1", text=".", edited_at=BASE_TIME + timedelta(minutes=2), thread_id="q1"
    )
    a = make_message(ANSWER, author="helper", chan="help", message_id="a1", thread_id="q1", minutes=1)
    await _one_by_one(store, [q, edit, a], batches="each")
    helper = await totals(store, "helper")
    assert (helper["messages"], helper["replies"]) == (0, 0)
    assert (await totals(store, "asker"))["threads"] == 0


async def test_kept_edit_of_a_deleted_message_goes(store: Store) -> None:
    edit = MessageEdited(
        channel=channel("help"), message_id="a1", text=ANSWER, edited_at=BASE_TIME, author=user("helper")
    )
    await _one_by_one(store, [edit], batches="each")
    assert await _count(store, "activity_pending_edits") == 1
    await _one_by_one(store, [MessageDeleted(channel=channel("help"), message_id="a1")], batches="each")
    assert await _count(store, "activity_pending_edits") == 0


async def test_kept_changes_are_purged_after_two_days(store: Store) -> None:
    edit = MessageEdited(
        channel=channel("help"), message_id="a1", text=ANSWER, edited_at=BASE_TIME, author=user("helper")
    )
    counters = ActivityCounters(store, UTC)
    await counters.apply([edit, _react("a9", "fan", 1, added=False)])
    assert await _count(store, "activity_pending_edits") == 1
    assert await _count(store, "activity_reaction_removals") == 1
    await store.db.execute("UPDATE activity_pending_edits SET noted_ts = noted_ts - 3 * 86400")
    await store.db.execute("UPDATE activity_reaction_removals SET noted_ts = noted_ts - 3 * 86400")
    counters = ActivityCounters(store, UTC)  # a worker purges on its first batch, then hourly
    await counters.apply([make_message(ANSWER, author="other", chan="help", message_id="x1")])
    assert await _count(store, "activity_pending_edits") == 0
    assert await _count(store, "activity_reaction_removals") == 0


async def _app(make_app):  # type: ignore[no-untyped-def]
    return await make_app(brains=["activity"], clock=FakeClock(BASE_TIME + timedelta(hours=1)))


async def test_app_removal_before_add(make_app) -> None:  # type: ignore[no-untyped-def]
    """Through the app: the recorder and the activity brain on their own queues."""
    app, adapter = await _app(make_app)
    await adapter.inject(make_message(ANSWER, author="helper", chan="help", message_id="a1"))
    await app.bus.drain()
    await adapter.inject(_react("a1", "fan", 6, added=False))
    await app.bus.drain()
    await adapter.inject(_react("a1", "fan", 5, added=True))
    await app.bus.drain()
    assert await _count(app.store, "reactions") == 0
    assert await _count(app.store, "activity_reactions") == 0
    assert (await totals(app.store, "helper"))["reactions"] == 0


async def test_app_edit_before_post(make_app) -> None:  # type: ignore[no-untyped-def]
    app, adapter = await _app(make_app)
    edit = MessageEdited(
        channel=channel("help"),
        message_id="a1",
        text=".",
        edited_at=BASE_TIME + timedelta(minutes=1),
        author=user("helper"),
    )
    await adapter.inject(edit)
    await app.bus.drain()
    await adapter.inject(make_message(ANSWER, author="helper", chan="help", message_id="a1"))
    await app.bus.drain()
    stored = await app.store.db.fetchone("SELECT text FROM messages WHERE message_id = 'a1'")
    assert stored is not None and stored[0] == "."
    assert (await totals(app.store, "helper"))["messages"] == 0


async def test_kept_edit_is_exported_and_forgotten(make_app) -> None:  # type: ignore[no-untyped-def]
    app, adapter = await _app(make_app)
    edit = MessageEdited(
        channel=channel("help"), message_id="a1", text=ANSWER, edited_at=BASE_TIME, author=user("helper")
    )
    await adapter.inject(edit)
    await app.bus.drain()
    await adapter.inject(_react("b1", "helper", 3, added=False))
    await app.bus.drain()
    brain = next(b for b in app.brains if b.name == "activity")
    exported = await brain.export_member(user("helper"))
    assert [e["message_id"] for e in exported["pending_edits"]] == ["a1"]
    assert [r["message_id"] for r in exported["reaction_removals"]] == ["b1"]
    erased = await brain.forget_member(user("helper"))
    assert (erased["activity_pending_edits"], erased["activity_reaction_removals"]) == (1, 1)
    assert await _count(app.store, "activity_pending_edits") == 0
    assert await _count(app.store, "activity_reaction_removals") == 0
