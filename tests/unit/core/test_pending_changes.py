"""Changes that overtake what they change: on the Redis bus a post and its edit (or a reaction's add
and its removal) can be handled by two workers, or a dead worker's post reclaimed after the edit
that followed it was handled. The edit must win over the late post, and the removal over the late
add; what waits for its post is erased by /forget-me, a delete and the purges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.events import ChannelRef, MessageDeleted, MessageEdited, Platform, ReactionAdded, ReactionRemoved
from bot.recorder import Recorder
from bot.store import MessageRow, ReactionRow, Store
from bot.testing import make_message, user
from bot.testing.builders import BASE_TIME
from tests.store_backends import fresh_store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
CH = ChannelRef(Platform.CONSOLE, "local", "general", "general")
KEY = ("console", "local", "m1")


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    async with fresh_store(request.param) as s:
        yield s


def at(minutes: float) -> object:
    return BASE_TIME + timedelta(minutes=minutes)


def post(text: str = "call me on 555-0100") -> object:
    return make_message(text, chan=CH, message_id="m1")


def edit(text: str, minutes: float) -> MessageEdited:
    return MessageEdited(CH, "m1", text, BASE_TIME + timedelta(minutes=minutes), author=user("alice"))


def reaction(kind: type[ReactionAdded] | type[ReactionRemoved], minutes: float) -> ReactionAdded | ReactionRemoved:
    return kind(CH, "m1", user("bob"), "eyes", BASE_TIME + timedelta(minutes=minutes))


async def pending(store: Store) -> int:
    row = await store.db.fetchone("SELECT COUNT(*) FROM pending_edits")
    return int(row[0]) if row else 0


# -- edits ---------------------------------------------------------------------------------------
async def test_an_edit_handled_before_its_post_is_what_the_post_stores(store: Store) -> None:
    recorder = Recorder(store)
    await recorder.handle_batch([edit("(removed)", 1)])  # another worker holds the post
    assert await store.get_message(*KEY) is None  # no placeholder: readers see nothing yet
    await recorder.handle_batch([post()])
    row = await store.get_message(*KEY)
    assert row is not None and row.text == "(removed)"
    assert row.edited_ts == pytest.approx((BASE_TIME + timedelta(minutes=1)).timestamp())
    assert await pending(store) == 0
    # A redelivery of the post keeps the edit (the upsert's rule for edited text).
    await recorder.handle_batch([post()])
    row = await store.get_message(*KEY)
    assert row is not None and row.text == "(removed)"


async def test_the_latest_of_several_early_edits_wins_in_any_order(store: Store) -> None:
    recorder = Recorder(store)
    await recorder.handle_batch([edit("second", 2)])
    await recorder.handle_batch([edit("first", 1)])
    await recorder.handle_batch([post()])
    row = await store.get_message(*KEY)
    assert row is not None and row.text == "second"


async def test_the_store_api_applies_an_early_edit_to_a_later_upsert(store: Store) -> None:
    # The QA brain's own paths: edit_message on the edit, upsert_messages on the post.
    assert not await store.edit_message("slack", "T1", "x1", "edited", 2000.0, author_id="U1")
    await store.upsert_messages(
        [MessageRow("slack", "T1", "x1", "C1", author_id="U1", ts=1000.0, text="original")]  # type: ignore[call-arg]
    )
    row = await store.get_message("slack", "T1", "x1")
    assert row is not None and (row.text, row.edited_ts) == ("edited", 2000.0)


async def test_a_post_already_edited_later_keeps_its_newer_text(store: Store) -> None:
    # An import's post carries its own, newer edit: the older pending edit is dropped.
    await store.edit_messages([("slack", "T1", "x1", "old edit", 1500.0, "C1", "U1")])
    await store.upsert_messages(
        [MessageRow("slack", "T1", "x1", "C1", author_id="U1", ts=1000.0, text="newer", edited_ts=1800.0)]  # type: ignore[call-arg]
    )
    row = await store.get_message("slack", "T1", "x1")
    assert row is not None and row.text == "newer"
    assert await pending(store) == 0


async def test_a_delete_drops_an_edit_waiting_for_its_post(store: Store) -> None:
    recorder = Recorder(store)
    await recorder.handle_batch([edit("(removed)", 1)])
    await recorder.handle_batch([MessageDeleted(CH, "m1")])
    assert await pending(store) == 0
    await recorder.handle_batch([post()])
    row = await store.get_message(*KEY)
    assert row is not None and row.deleted and row.text == ""


async def test_an_edit_of_a_stored_message_waits_for_nothing(store: Store) -> None:
    recorder = Recorder(store)
    await recorder.handle_batch([post(), edit("fixed", 1)])
    await recorder.handle_batch([edit("stale", 0.5)])  # older than the stored edit: refused, not kept
    row = await store.get_message(*KEY)
    assert row is not None and row.text == "fixed"
    assert await pending(store) == 0


# -- reactions -----------------------------------------------------------------------------------
async def test_an_add_handled_after_its_removal_is_not_stored(store: Store) -> None:
    recorder = Recorder(store)
    await recorder.handle_batch([post()])
    await recorder.handle_batch([reaction(ReactionRemoved, 2)])
    await recorder.handle_batch([reaction(ReactionAdded, 1)])  # reclaimed from a dead worker
    assert await store.reactions_for(*KEY) == []
    # Given again after the removal: stored.
    await recorder.handle_batch([reaction(ReactionAdded, 3)])
    assert [r.user_id for r in await store.reactions_for(*KEY)] == ["bob"]


async def test_reordered_reaction_changes_in_one_batch(store: Store) -> None:
    recorder = Recorder(store)
    await recorder.handle_batch([post(), reaction(ReactionRemoved, 2), reaction(ReactionAdded, 1)])
    assert await store.reactions_for(*KEY) == []
    # An add newer than a removal handled after it stands.
    await recorder.handle_batch([reaction(ReactionAdded, 5), reaction(ReactionRemoved, 4)])
    assert [r.user_id for r in await store.reactions_for(*KEY)] == ["bob"]


async def test_a_late_removal_leaves_a_newer_add(store: Store) -> None:
    recorder = Recorder(store)
    await recorder.handle_batch([post(), reaction(ReactionAdded, 3)])
    await recorder.handle_batch([reaction(ReactionRemoved, 2)])
    assert [r.user_id for r in await store.reactions_for(*KEY)] == ["bob"]


async def test_untimed_removal_and_plain_adds_behave_as_before(store: Store) -> None:
    await store.add_reactions([ReactionRow("slack", "T1", "x1", "U2", "+1", 10.0)])
    assert await store.remove_reaction("slack", "T1", "x1", "U2", "+1")
    await store.add_reactions([ReactionRow("slack", "T1", "x1", "U2", "+1", 5.0)])  # no removal noted
    assert len(await store.reactions_for("slack", "T1", "x1")) == 1


# -- erasure and expiry --------------------------------------------------------------------------
async def test_purge_drops_old_pending_changes(store: Store) -> None:
    await store.edit_message("slack", "T1", "x1", "edited", 2000.0, author_id="U1")
    await store.remove_reaction("slack", "T1", "x1", "U2", "+1", ts=2000.0)
    await store.db.execute("UPDATE pending_edits SET noted_ts = 1")
    assert await store.purge_pending_changes(100.0) == 1  # the removal was noted now
    assert await pending(store) == 0
    assert await store.purge_pending_changes(10**12) == 1


async def test_forget_me_erases_pending_changes(make_app) -> None:
    app, _ = await make_app()
    recorder = Recorder(app.store)
    await recorder.handle_batch([edit("my home address is ...", 1)])
    await recorder.handle_batch([ReactionRemoved(CH, "m2", user("alice"), "eyes", BASE_TIME + timedelta(minutes=1))])
    exported = await app.brain("core").export(user("alice"))  # type: ignore[attr-defined]
    assert [e["text"] for e in exported["pending_edits"]] == ["my home address is ..."]
    assert [r["message_id"] for r in exported["reaction_removals"]] == ["m2"]
    await app.brain("core").forget(user("alice"))  # type: ignore[attr-defined]
    for table in ("pending_edits", "reaction_removals"):
        row = await app.store.db.fetchone(f"SELECT COUNT(*) FROM {table}")
        assert row is not None and row[0] == 0, table


async def test_retention_covers_pending_changes(make_app) -> None:
    app, _ = await make_app()
    store = app.store
    await store.set_workspace_setting("console", "local", "retention_days", 1)
    await Recorder(store).handle_batch([post()])  # a workspace with messages
    await store.edit_message("console", "local", "old", "text", 1000.0, channel_id="general", author_id="alice")
    await store.remove_reaction("console", "local", "old", "bob", "+1", ts=1000.0)
    await app.brain("core").purge_expired()  # type: ignore[attr-defined]
    for table in ("pending_edits", "reaction_removals"):
        row = await store.db.fetchone(f"SELECT COUNT(*) FROM {table}")
        assert row is not None and row[0] == 0, table


async def test_the_daily_purge_keeps_pending_changes_two_days(make_app) -> None:
    # Pending changes are stamped by the wall clock: the fake clock starts there.
    clock = FakeClock(datetime.now(UTC))
    app, _ = await make_app(clock=clock)
    store = app.store
    await store.edit_message("console", "local", "x1", "edited", 2000.0, author_id="alice")
    clock._now += timedelta(days=1)
    await app.brain("core").purge_dedupe_marks()  # type: ignore[attr-defined]
    assert await pending(store) == 1  # its post may still come
    clock._now += timedelta(days=2)
    await app.brain("core").purge_dedupe_marks()  # type: ignore[attr-defined]
    assert await pending(store) == 0  # not kept for the dedupe marks' 90 days
