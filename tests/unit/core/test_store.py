"""The store on SQLite and PostgreSQL: idempotent upserts, edits, deletes, access lists."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import ChannelRow, MessageRow, ReactionRow, Store, UserRow, open_store
from bot.store.db import SQLiteDatabase
from tests.store_backends import fresh_store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    async with fresh_store(request.param) as s:
        yield s


def msg(mid: str, text: str = "hello", **kw: object) -> MessageRow:
    base: dict[str, object] = dict(
        platform="slack",
        workspace_id="T1",
        message_id=mid,
        channel_id="C1",
        author_id="U1",
        ts=1000.0 + float(len(mid)),
        text=text,
    )
    base.update(kw)
    return MessageRow(**base)  # type: ignore[arg-type]


async def test_reupserting_the_same_messages_creates_no_duplicates(store: Store) -> None:
    rows = [msg(f"m{i}", f"text {i}") for i in range(50)]
    await store.upsert_messages(rows)
    await store.upsert_messages(rows)
    counts = await store.counts()
    assert counts["messages"] == 50


async def test_edit_applies_and_a_late_redelivery_of_the_original_does_not_revert_it(store: Store) -> None:
    await store.upsert_messages([msg("m1", "original")])
    assert await store.edit_message("slack", "T1", "m1", "edited", 2000.0)
    await store.upsert_messages([msg("m1", "original")])
    stored = await store.get_message("slack", "T1", "m1")
    assert stored is not None and stored.text == "edited" and stored.edited_ts == 2000.0
    # An older edit arriving late is ignored.
    assert not await store.edit_message("slack", "T1", "m1", "stale", 1500.0)


async def test_delete_removes_text_and_redelivery_cannot_resurrect_it(store: Store) -> None:
    await store.upsert_messages([msg("m1", "secret plan")])
    assert await store.delete_message("slack", "T1", "m1")
    await store.upsert_messages([msg("m1", "secret plan")])
    stored = await store.get_message("slack", "T1", "m1")
    assert stored is not None and stored.deleted and stored.text == ""
    assert not await store.edit_message("slack", "T1", "m1", "back again", 3000.0)
    rows = await store.db.fetchall("SELECT text FROM messages WHERE text LIKE ?", ("%secret%",))
    assert rows == []


async def test_delete_before_post_leaves_a_tombstone(store: Store) -> None:
    await store.delete_message("slack", "T1", "early", channel_id="C1")
    await store.upsert_messages([msg("early", "should not appear")])
    stored = await store.get_message("slack", "T1", "early")
    assert stored is not None and stored.deleted and stored.text == ""


async def test_odd_unicode_and_huge_text_round_trip(store: Store) -> None:
    text = "RTL \u202e עברית, ZWJ 👩‍👩‍👧‍👦, combining e\u0301, " + "x" * 40_000
    await store.upsert_messages([msg("big", text), msg("nul", "a\x00b")])
    stored = await store.get_message("slack", "T1", "big")
    assert stored is not None and stored.text == text
    nul = await store.get_message("slack", "T1", "nul")
    assert nul is not None and nul.text == "a\ufffdb"  # PostgreSQL refuses NUL; both backends agree


async def test_thread_and_channel_queries(store: Store) -> None:
    await store.upsert_messages(
        [
            msg("100.1", "root", thread_id="100.1", ts=100.1),
            msg("100.2", "reply", thread_id="100.1", ts=100.2),
            msg("100.3", "other", ts=100.3),
        ]
    )
    thread = await store.thread_messages("slack", "T1", "100.1")
    assert [m.text for m in thread] == ["root", "reply"]
    window = await store.channel_messages("slack", "T1", "C1", since=100.15)
    assert [m.message_id for m in window] == ["100.2", "100.3"]
    streamed = [m.message_id async for m in store.iter_messages(platform="slack", batch=2)]
    assert streamed == ["100.1", "100.2", "100.3"]


async def test_readable_channels_follow_visibility_and_access(store: Store) -> None:
    await store.upsert_channels(
        [
            ChannelRow("discord", "G", "pub", "general", "public"),
            ChannelRow("discord", "G", "mods", "mods", "private"),
            ChannelRow("discord", "G", "staff", "staff", "private"),
            ChannelRow("discord", "G", "dm1", "", "dm"),
        ]
    )
    await store.set_channel_access("discord", "G", "mods", user_ids=["alice"])
    await store.set_channel_access("discord", "G", "staff", role_ids=["role-staff"])
    await store.set_channel_access("discord", "G", "dm1", user_ids=["bob"])
    assert await store.readable_channel_ids("discord", "G", "alice") == {"pub", "mods"}
    assert await store.readable_channel_ids("discord", "G", "carol", ["role-staff"]) == {"pub", "staff"}
    assert await store.readable_channel_ids("discord", "G", "bob") == {"pub", "dm1"}


async def test_reactions_are_one_per_member_emoji_and_message(store: Store) -> None:
    r = ReactionRow("slack", "T1", "m1", "U2", "+1", 5.0)
    await store.add_reactions([r, r])
    assert len(await store.reactions_for("slack", "T1", "m1")) == 1
    assert await store.remove_reaction("slack", "T1", "m1", "U2", "+1")
    assert await store.reactions_for("slack", "T1", "m1") == []


async def test_settings_feedback_audit_and_processed_markers(store: Store) -> None:
    await store.upsert_users([UserRow("slack", "T1", "U1", "Ana")])
    await store.set_member_setting("slack", "T1", "U1", "opted_out", True)
    assert await store.is_opted_out("slack", "T1", "U1")
    assert await store.members_with_setting("slack", "T1", "opted_out", True) == {"U1"}
    await store.set_workspace_setting("slack", "T1", "alerts_channel", "C9")
    assert await store.get_workspace_setting("slack", "T1", "alerts_channel") == "C9"
    await store.record_feedback("slack", "T1", "U1", "answer", "a1", "up")
    assert (await store.feedback("answer"))[0][5] == "up"
    await store.audit("slack", "T1", "U1", "/guildhall index", allowed=False)
    entry = (await store.audit_entries())[0]
    assert entry["action"] == "/guildhall index" and entry["allowed"] is False
    assert await store.mark_processed("activity", "e1")
    assert not await store.mark_processed("activity", "e1")


async def test_migrations_are_idempotent(store: Store) -> None:
    assert await store.migrate() == []


async def test_nul_in_ids_and_lookups_never_breaks_the_store(store: Store) -> None:
    odd = "ghost-\u0000-\U0010ffff"
    # PostgreSQL rejects U+0000 in text; both stores must answer lookups and take writes anyway.
    assert await store.is_opted_out("slack", "T1", odd) is False
    await store.set_member_setting("slack", "T1", odd, "opted_out", True)
    assert await store.is_opted_out("slack", "T1", odd) is True
    assert await store.readable_channel_ids("slack", "T1", odd, ()) is not None


async def test_batch_edits_deletes_and_reaction_removals_follow_the_single_rules(store: Store) -> None:
    await store.upsert_messages([msg("m1", "first"), msg("m2", "second")])
    # In order: a newer edit wins over an older one given later; an edit of a deleted message is ignored.
    await store.edit_messages(
        [
            ("slack", "T1", "m1", "newest", 30.0),
            ("slack", "T1", "m1", "older", 20.0),
            ("slack", "T1", "m2", "edited", 10.0),
        ]
    )
    await store.delete_messages([("slack", "T1", "m2", "C1"), ("slack", "T1", "never-seen", "C1")])
    await store.edit_messages([("slack", "T1", "m2", "resurrected?", 40.0)])
    m1, m2 = await store.get_message("slack", "T1", "m1"), await store.get_message("slack", "T1", "m2")
    assert m1 is not None and (m1.text, m1.edited_ts) == ("newest", 30.0)
    assert m2 is not None and m2.deleted and m2.text == ""
    # The delete seen before its message left a tombstone: the late original stays erased.
    await store.upsert_message_values(
        [("slack", "T1", "never-seen", "C1", None, None, "U1", 5.0, None, 0, "late text", 0, "", "")]
    )
    late = await store.get_message("slack", "T1", "never-seen")
    assert late is not None and late.deleted and late.text == ""
    await store.add_reactions([ReactionRow("slack", "T1", "m1", "U2", "+1", 1.0)])
    await store.remove_reactions([("slack", "T1", "m1", "U2", "+1"), ("slack", "T1", "m1", "U3", "+1")])
    assert await store.reactions_for("slack", "T1", "m1") == []


async def test_bulk_message_values_store_nul_like_single_upserts(store: Store) -> None:
    await store.upsert_message_values(
        [("slack", "T1", "m1", "C1", "m1", None, "U1", 5.0, None, 0, "a\x00b", 0, "", "https://x/p1")]
    )
    await store.upsert_messages([msg("m2", "a\x00b")])
    m1, m2 = await store.get_message("slack", "T1", "m1"), await store.get_message("slack", "T1", "m2")
    assert m1 is not None and m2 is not None
    assert m1.text == m2.text == "a\ufffdb"
    assert (m1.thread_id, m1.permalink, m1.is_bot) == ("m1", "https://x/p1", False)


async def test_the_wal_is_checkpointed_in_the_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer only checkpoints by itself past ~80 MB of WAL; the database file growing after a
    # few MB of writes shows the background checkpointer copied them in.
    monkeypatch.setattr(SQLiteDatabase, "CHECKPOINT_INTERVAL_S", 0.02)
    path = tmp_path / "s.db"
    store = await open_store(f"sqlite:///{path}")
    try:
        before = path.stat().st_size
        await store.upsert_messages([msg(f"m{i}", "x" * 1000) for i in range(2000)])
        for _ in range(250):
            if path.stat().st_size > before + 1_000_000:
                break
            await asyncio.sleep(0.02)
        assert path.stat().st_size > before + 1_000_000
    finally:
        await store.close()
    assert (await _count_messages(path)) == 2000


async def _count_messages(path: Path) -> int:
    store = await open_store(f"sqlite:///{path}")
    try:
        row = await store.db.fetchone("SELECT COUNT(*) FROM messages")
        return int(row[0]) if row else 0
    finally:
        await store.close()


async def test_one_feedback_row_per_member_and_target_the_latest_vote(store: Store) -> None:
    await store.record_feedback("console", "local", "carol", "qa", "a1", "down", ts=10.0)
    await store.record_feedback("console", "local", "carol", "qa", "a1", "up", ts=20.0)
    await store.record_feedback("console", "local", "carol", "qa", "a1", "down", ts=15.0)  # delivered late
    await store.record_feedback("console", "local", "dave", "qa", "a1", "down", ts=12.0)
    rows = sorted((r[2], r[5], r[6]) for r in await store.feedback("qa"))
    assert rows == [("carol", "up", 20.0), ("dave", "down", 12.0)]


async def test_the_one_vote_migration_keeps_each_members_latest_earlier_row(store: Store) -> None:
    # Rows from before core-0008: every click its own row.
    await store.db.execute("DROP INDEX feedback_one_vote")
    rows = [
        ("f1", "carol", "down", 1.0),
        ("f2", "carol", "up", 3.0),
        ("f3", "carol", "down", 2.0),
        ("f4", "dave", "up", 1.0),
    ]
    for fid, who, value, ts in rows:
        await store.db.execute(
            "INSERT INTO feedback (feedback_id, platform, workspace_id, user_id, kind, target_id, value, ts) "
            "VALUES (?, 'console', 'local', ?, 'qa', 'a1', ?, ?)",
            (fid, who, value, ts),
        )
    await store.db.execute("DELETE FROM schema_migrations WHERE name = 'core-0008-feedback-one-vote'")
    await store.migrate()
    assert sorted((r[2], r[5]) for r in await store.feedback("qa")) == [("carol", "up"), ("dave", "up")]
