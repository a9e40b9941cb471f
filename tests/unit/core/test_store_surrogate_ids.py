"""Ids holding half an emoji (a lone UTF-16 surrogate) are stored, found, edited and deleted on both
stores, not lost.

A bad export may name a channel ``"C\\ud83d1"``: a ``str`` no UTF-8 encoder takes. PostgreSQL's
executor always replaced it with U+FFFD; SQLite's raised ``UnicodeEncodeError`` and rolled back the
whole batch of messages. Both now bind U+FFFD, on writes and lookups alike, so a later edit or
delete naming the same raw id reaches the same row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store import ChannelRow, MessageRow, Store
from tests.store_backends import fresh_store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]

CHANNEL = "C\ud83d1"  # half an emoji: the high surrogate of 🎉 and no low one
STORED_CHANNEL = "C\ufffd1"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    async with fresh_store(request.param) as s:
        yield s


def msg(mid: str, text: str = "hello", **kw: object) -> MessageRow:
    base: dict[str, object] = dict(
        platform="slack",
        workspace_id="T1",
        message_id=mid,
        channel_id=CHANNEL,
        author_id="U\udc001",
        ts=1000.0 + float(len(mid)),
        text=text,
    )
    base.update(kw)
    return MessageRow(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [1, 3, 9])  # one statement; executemany; multi-row chunks + tail
async def test_messages_in_a_channel_whose_id_has_half_an_emoji_are_all_stored(store: Store, count: int) -> None:
    await store.upsert_channels([ChannelRow("slack", "T1", CHANNEL, "help")])
    rows = [msg(f"1700000001.{i:06d}", f"text {i}") for i in range(count)]
    assert await store.upsert_messages(rows) == count
    assert (await store.counts())["messages"] == count
    # Found by the id as the platform gave it, and by the id as stored.
    for channel_id in (CHANNEL, STORED_CHANNEL):
        found = await store.channel_messages("slack", "T1", channel_id)
        assert [m.text for m in found] == [f"text {i}" for i in range(count)]
        assert {m.channel_id for m in found} == {STORED_CHANNEL}
    channel = await store.get_channel("slack", "T1", CHANNEL)
    assert channel is not None and channel.channel_id == STORED_CHANNEL and channel.name == "help"


async def test_an_edit_and_a_delete_naming_the_same_raw_id_reach_the_same_row(store: Store) -> None:
    mid = "m\ud83d"
    await store.upsert_messages([msg(mid, "original"), msg("other", "kept")])
    stored = await store.get_message("slack", "T1", mid)
    assert stored is not None and stored.message_id == "m\ufffd" and stored.text == "original"

    assert await store.edit_message("slack", "T1", mid, "edited", 2000.0)
    stored = await store.get_message("slack", "T1", mid)
    assert stored is not None and stored.text == "edited"
    await store.edit_messages([("slack", "T1", mid, "edited twice", 2500.0)])  # the batched path
    stored = await store.get_message("slack", "T1", mid)
    assert stored is not None and stored.text == "edited twice"

    await store.upsert_messages([msg(mid, "original")])  # a redelivery: still one row, still edited
    assert (await store.counts())["messages"] == 2

    assert await store.delete_message("slack", "T1", mid, channel_id=CHANNEL)
    stored = await store.get_message("slack", "T1", mid)
    assert stored is not None and stored.deleted and stored.text == ""
    other = await store.get_message("slack", "T1", "other")
    assert other is not None and other.text == "kept"


async def test_a_delete_before_the_post_leaves_a_tombstone_under_the_same_id(store: Store) -> None:
    mid = "early\udc00"
    await store.delete_messages([("slack", "T1", mid, CHANNEL)])
    await store.upsert_messages([msg(mid, "should not appear")])
    stored = await store.get_message("slack", "T1", mid)
    assert stored is not None and stored.deleted and stored.text == ""
    assert (await store.counts())["messages"] == 1
