"""Live and imported facts take one path into the store."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from bot.events import (
    ChannelDeleted,
    ChannelRef,
    ChannelSeen,
    Event,
    MessageDeleted,
    MessageEdited,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ThreadCreated,
    Visibility,
)
from bot.recorder import LEFT_KEY, Recorder
from bot.store import open_store
from bot.testing import make_message, user
from bot.testing.builders import BASE_TIME


async def test_post_edit_delete_and_reactions_in_one_stream(make_app) -> None:
    app, adapter = await make_app()
    ch = ChannelRef(Platform.CONSOLE, "local", "help", "help")
    root = make_message("how do I pin a dependency?", chan=ch, message_id="r1", thread_id="r1")
    reply = make_message("use poetry add pkg@1.2", author="bob", chan=ch, message_id="r2", thread_id="r1", minutes=1)
    for event in (
        root,
        reply,
        MessageEdited(ch, "r2", "use `poetry add pkg==1.2`", BASE_TIME + timedelta(minutes=2)),
        ReactionAdded(ch, "r2", user("alice"), "✅"),
        ReactionAdded(ch, "r2", user("carol"), "✅"),
        ReactionRemoved(ch, "r2", user("carol"), "✅"),
        MessageDeleted(ch, "r1"),
    ):
        await adapter.inject(event)
    await app.bus.drain()
    store = app.store
    edited = await store.get_message("console", "local", "r2")
    assert edited is not None and edited.text == "use `poetry add pkg==1.2`"
    deleted = await store.get_message("console", "local", "r1")
    assert deleted is not None and deleted.deleted and deleted.text == ""
    assert [r.user_id for r in await store.reactions_for("console", "local", "r2")] == ["alice"]
    thread = await store.db.fetchone("SELECT author_id FROM threads WHERE thread_id = ?", ("r1",))
    assert thread == ("alice",)


async def test_a_reaction_taken_back_and_given_again_is_stored(make_app) -> None:
    """The second add had the first one's event id (message, member, emoji) and the bus dropped it
    as a repeat: the member's ✅ was gone from the store while it showed on the platform."""
    app, adapter = await make_app()
    ch = ChannelRef(Platform.CONSOLE, "local", "help", "help")
    await adapter.inject(make_message("use poetry add pkg@1.2", author="bob", chan=ch, message_id="r2"))
    for minutes, event in enumerate((ReactionAdded, ReactionRemoved, ReactionAdded), start=1):
        await adapter.inject(event(ch, "r2", user("alice"), "✅", BASE_TIME + timedelta(minutes=minutes)))
        await app.bus.drain()
    assert [r.user_id for r in await app.store.reactions_for("console", "local", "r2")] == ["alice"]
    # A redelivery of the last add (its own time) is still one.
    assert not await app.bus.publish(ReactionAdded(ch, "r2", user("alice"), "✅", BASE_TIME + timedelta(minutes=3)))


async def test_private_channel_access_is_recorded(make_app) -> None:
    app, adapter = await make_app()
    mods = ChannelRef(Platform.DISCORD, "g", "mods", "mods", Visibility.PRIVATE, allowed_role_ids=("role-mod",))
    await adapter.inject(ChannelSeen(mods, member_ids=("u-ann",)))
    await adapter.inject(
        make_message("mods only", author=user("u-bob", platform=Platform.DISCORD, workspace="g"), chan=mods)
    )
    await adapter.inject(
        ThreadCreated(mods, "t1", "planning", user("u-ann", platform=Platform.DISCORD, workspace="g"), BASE_TIME)
    )
    await app.bus.drain()
    assert await app.store.readable_channel_ids("discord", "g", "u-ann") == {"mods"}
    assert await app.store.readable_channel_ids("discord", "g", "u-bob") == {"mods"}
    assert await app.store.readable_channel_ids("discord", "g", "u-eve") == set()
    assert await app.store.readable_channel_ids("discord", "g", "u-eve", ["role-mod"]) == {"mods"}


async def test_a_member_who_left_a_private_channel_reads_it_no_more_but_is_still_a_member(make_app) -> None:
    from bot.events import MemberLeftChannel

    app, adapter = await make_app()
    secret = ChannelRef(Platform.SLACK, "T1", "GSECRET", "secret", Visibility.PRIVATE)
    carol = user("UCAROL", platform=Platform.SLACK, workspace="T1")
    await adapter.inject(ChannelSeen(secret, member_ids=("UCAROL", "UALICE")))
    await adapter.inject(MemberLeftChannel(carol, BASE_TIME, secret))
    await app.bus.drain()
    assert await app.store.readable_channel_ids("slack", "T1", "UCAROL") == set()
    assert await app.store.readable_channel_ids("slack", "T1", "UALICE") == {"GSECRET"}
    # Out of one channel, not out of the workspace (that would stop her digests and DMs).
    assert await app.store.get_member_setting("slack", "T1", "UCAROL", LEFT_KEY) is None


def _random_stream(rng: random.Random, n: int) -> list[Event]:
    """Posts, redeliveries, edits, deletes and reaction changes in a jumbled order, with a few
    structural facts between them: what chats and redelivering platforms actually produce."""
    chans = [ChannelRef(Platform.SLACK, "T1", f"C{i}", f"c{i}") for i in range(2)]
    members = [user(f"u{i}", platform=Platform.SLACK, workspace="T1") for i in range(4)]
    events: list[Event] = []
    for step in range(n):
        c = rng.randrange(2)
        ch = chans[c]
        # A message (and a thread) lives in one channel, as on every platform.
        ids = [f"c{c}m{i}" for i in range(12)]
        mid = rng.choice(ids)
        when = BASE_TIME + timedelta(seconds=step)
        roll = rng.random()
        if roll < 0.4:
            thread = rng.choice([None, mid, rng.choice(ids)])
            text = rng.choice(["how do I pin numpy?", "use a lock file", "thanks!", "see the docs"])
            events.append(make_message(text, author=rng.choice(members), chan=ch, message_id=mid, thread_id=thread))
        elif roll < 0.55:
            events.append(MessageEdited(ch, mid, f"edited {step}", BASE_TIME + timedelta(seconds=rng.randrange(n))))
        elif roll < 0.62:
            events.append(MessageDeleted(ch, mid, when))
        elif roll < 0.8:
            events.append(ReactionAdded(ch, mid, rng.choice(members), rng.choice(["+1", "✅"]), when))
        elif roll < 0.97:
            events.append(ReactionRemoved(ch, mid, rng.choice(members), rng.choice(["+1", "✅"]), when))
        else:
            events.append(ThreadCreated(ch, mid, f"topic {step}", rng.choice(members), when))
    return events


async def _recorded_rows(events: list[Event], batch: int) -> dict[str, list[tuple[object, ...]]]:
    store = await open_store("sqlite://:memory:")
    try:
        recorder = Recorder(store)
        for start in range(0, len(events), batch):
            await recorder.handle_batch(events[start : start + batch])
        return {
            table: await store.db.fetchall(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4")
            for table in ("messages", "reactions", "threads", "users", "channels")
        }
    finally:
        await store.close()


@pytest.mark.parametrize("seed", range(8))
async def test_a_batch_leaves_the_same_rows_as_one_event_at_a_time(seed: int) -> None:
    # The recorder reorders writes inside a batch (posts, then reactions, edits, deletes); whatever
    # the interleaving, the stored rows must be exactly those of applying the events one by one.
    events = _random_stream(random.Random(seed), 400)
    one_by_one = await _recorded_rows(events, batch=1)
    assert one_by_one["messages"] and one_by_one["reactions"]  # the stream exercises both tables
    assert await _recorded_rows(events, batch=len(events)) == one_by_one
    assert await _recorded_rows(events, batch=37) == one_by_one


async def test_a_deleted_channel_erases_its_messages_and_its_threads(make_app) -> None:
    app, adapter = await make_app()
    gone = ChannelRef(Platform.DISCORD, "g", "c-gone", "gone")
    kept = ChannelRef(Platform.DISCORD, "g", "c-kept", "kept")
    # A public thread's messages are stored under the parent channel with the thread's id.
    for event in (
        make_message("in the doomed channel", chan=gone, message_id="m1"),
        make_message("in its thread", chan=gone, message_id="m2", thread_id="t1"),
        make_message("in a thread of another channel", chan=kept, message_id="m3", thread_id="t2"),
        make_message("elsewhere", chan=kept, message_id="m4"),
    ):
        await adapter.inject(event)
    await adapter.inject(ChannelDeleted(gone))
    await adapter.inject(ChannelDeleted(ChannelRef(Platform.DISCORD, "g", "t2", "")))  # a deleted thread
    await app.bus.drain()
    store = app.store
    for message_id in ("m1", "m2", "m3"):
        row = await store.get_message("discord", "g", message_id)
        assert row is not None and row.deleted and row.text == "", message_id
    survivor = await store.get_message("discord", "g", "m4")
    assert survivor is not None and not survivor.deleted and survivor.text == "elsewhere"
    assert await store.channel_messages("discord", "g", "c-gone") == []


async def test_an_imported_join_does_not_bring_back_a_member_who_left(make_app) -> None:
    """An export replays every join it holds: importing one after a member left took their "left"
    mark away, and the daily digest went to them again. A live join does bring them back."""
    from bot.events import EventSource, MemberJoined, MemberLeft

    app, adapter = await make_app()
    carol = user("UCAROL", platform=Platform.SLACK, workspace="T1")
    await adapter.inject(MemberLeft(carol, BASE_TIME + timedelta(days=30)))
    await adapter.inject(MemberJoined(carol, BASE_TIME, source=EventSource.IMPORT))
    await app.bus.drain()
    assert await app.store.get_member_setting("slack", "T1", "UCAROL", LEFT_KEY) is True
    await adapter.inject(MemberJoined(carol, BASE_TIME + timedelta(days=40)))
    await app.bus.drain()
    assert await app.store.get_member_setting("slack", "T1", "UCAROL", LEFT_KEY) is None
