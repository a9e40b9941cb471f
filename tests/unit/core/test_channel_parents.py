"""Channel parents (migration ``core-0004``): a deleted channel takes the private threads stored
under it, on SQLite and PostgreSQL; stores and bus events from before the column still work."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.events import ChannelDeleted, ChannelRef, MessagePosted, Platform, Visibility, from_json, to_json
from bot.store import ChannelRow, MessageRow, Store, schema
from bot.testing import make_message
from tests.store_backends import fresh_store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
PARENTS = "core-0004-channel-parents"
GUILD, PARENT, THREAD, OTHER = "G1", "100", "200", "300"


@pytest.fixture(params=BACKENDS)
async def legacy_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A store the version before channel parents migrated: every core step up to ``core-0003``."""
    current = schema.CORE
    schema.CORE = [m for m in current if m.name != PARENTS]
    try:
        async with fresh_store(request.param) as store:
            schema.CORE = current
            yield store
    finally:
        schema.CORE = current


def message(mid: str, channel_id: str) -> MessageRow:
    return MessageRow("discord", GUILD, mid, channel_id, "U1", 1.0, f"text of {mid}", thread_id=channel_id)


async def live_text(store: Store, mid: str) -> str:
    row = await store.get_message("discord", GUILD, mid)
    assert row is not None
    return "" if row.deleted else row.text


async def test_the_migration_adds_parents_to_a_store_with_channels_and_erasing_follows_them(
    legacy_store: Store,
) -> None:
    store = legacy_store
    # What the previous version wrote: a private thread as a channel of its own, with no parent.
    await store.db.execute(
        "INSERT INTO channels (platform, workspace_id, channel_id, name, visibility, is_forum) "
        "VALUES ('discord', ?, ?, 'war-room', 'private', 0)",
        (GUILD, THREAD),
    )
    await store.upsert_messages([message("m1", THREAD), message("m2", PARENT)])

    assert await store.migrate() == [PARENTS]
    assert await store.migrate() == []  # applied once (ADD COLUMN cannot run twice)

    old = await store.get_channel("discord", GUILD, THREAD)
    assert old is not None and old.parent_id is None and old.name == "war-room"
    # No parent recorded, none known: deleting the parent cannot reach this thread yet.
    assert await store.child_channel_ids("discord", GUILD, PARENT) == []
    # Seen again (a post, THREAD_UPDATE, a backfill): the parent is filled in, and a ref that does
    # not know it (a visibility guess, an event from before the field) never clears it.
    await store.upsert_channels([ChannelRow("discord", GUILD, THREAD, "war-room", "private", parent_id=PARENT)])
    await store.upsert_channels([ChannelRow("discord", GUILD, THREAD, "", "private")])
    await store.upsert_channels([ChannelRow("discord", GUILD, THREAD, "", "private")], keep_visibility=True)
    await store.upsert_channels([ChannelRow("discord", GUILD, OTHER, "elsewhere", "private", parent_id="999")])
    await store.upsert_messages([message("m3", OTHER)])
    assert await store.child_channel_ids("discord", GUILD, PARENT) == [THREAD]

    assert await store.erase_channel("discord", GUILD, PARENT) == 2
    assert await live_text(store, "m1") == "" and await live_text(store, "m2") == ""
    assert await live_text(store, "m3") == "text of m3"  # another parent's thread stays
    assert (await store.get_channel("discord", GUILD, THREAD)) is not None  # rows outlive the erase


def test_a_channel_ref_serialized_before_parents_existed_still_decodes() -> None:
    ref = ChannelRef(Platform.DISCORD, GUILD, THREAD, "war-room", Visibility.PRIVATE, parent_id=PARENT)
    posted = make_message("hello", chan=ref)
    assert isinstance(from_json(to_json(posted)), MessagePosted)
    assert from_json(to_json(posted)).channel.parent_id == PARENT  # type: ignore[attr-defined]
    # What an older process put on the Redis bus: no "parent_id" key at all.
    for event in (posted, ChannelDeleted(ref)):
        data = json.loads(to_json(event))
        del data["channel"]["parent_id"]
        decoded = from_json(json.dumps(data))
        assert decoded.channel.parent_id is None  # type: ignore[attr-defined]
        assert decoded == event  # the parent is not part of a channel's identity
