"""A store written before Slack ids named their channel is migrated to ``"<channel>:<ts>"`` ids."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import brain.activity.schema
import brain.community.brain
import brain.qa.history
import brain.recommend.tables  # noqa: F401 - importing registers each brain's migrations
from bot.store import MessageRow, ReactionRow, Store
from tests.store_backends import fresh_store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
ROOT, REPLY, LOOSE = "1700000000.000100", "1700000001.000200", "1700000002.000300"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    async with fresh_store(request.param) as s:
        yield s


def row(platform: str, mid: str, channel: str, *, thread: str | None = None, reply_to: str | None = None) -> MessageRow:
    return MessageRow(
        platform=platform,
        workspace_id="T1",
        message_id=mid,
        channel_id=channel,
        author_id="U1",
        ts=float(mid.split(".")[0]) if platform == "slack" else 1.0,
        text=f"text of {mid}",
        thread_id=thread,
        reply_to=reply_to,
    )


async def write_legacy_rows(store: Store) -> None:
    """What the previous version stored: bare ts ids for Slack (and a Discord message as a control)."""
    await store.upsert_messages(
        [
            row("slack", ROOT, "CHELP", thread=ROOT),
            row("slack", REPLY, "CHELP", thread=ROOT, reply_to=ROOT),
            row("slack", LOOSE, "CGENERAL"),
            row("discord", "1234567890", "555", thread="1234567890"),
        ]
    )
    await store.add_reactions([ReactionRow("slack", "T1", REPLY, "U2", "+1", 5.0)])
    db = store.db
    await db.execute(
        "INSERT INTO threads (platform, workspace_id, thread_id, channel_id, ts, solved_message_id) "
        "VALUES ('slack', 'T1', ?, 'CHELP', 1.0, ?)",
        (ROOT, REPLY),
    )
    await store.record_feedback("slack", "T1", "U2", "qa", f"msg:{REPLY}", "up", ts=6.0)
    await store.record_feedback("slack", "T1", "U2", "qa", "answer-uuid-1", "down", ts=7.0)
    await db.execute(
        "INSERT INTO activity_contrib (platform, workspace_id, message_id, channel_id, author_id, thread_id, day, ts, "
        "answer_id) VALUES ('slack', 'T1', ?, 'CHELP', 'U1', ?, '2023-11-14', 1.0, ?)",
        (ROOT, ROOT, REPLY),
    )
    await db.execute(
        "INSERT INTO activity_reactions (platform, workspace_id, message_id, user_id, emoji, ts) "
        "VALUES ('slack', 'T1', ?, 'U2', '+1', 5.0)",
        (REPLY,),
    )
    await db.execute(
        "INSERT INTO qa_answers (answer_id, platform, workspace_id, channel_id, thread_id, asker_id, question, answer, "
        "ts) VALUES ('a1', 'slack', 'T1', 'CHELP', ?, 'U1', 'q', 'a', 1.0)",
        (ROOT,),
    )
    await db.execute(
        "INSERT INTO recommend_shown (platform, workspace_id, user_id, thread_id, channel_id, shown_ts) "
        "VALUES ('slack', 'T1', 'U2', ?, 'CHELP', 1.0)",
        (ROOT,),
    )
    await db.execute(
        "INSERT INTO community_threads (platform, workspace_id, thread_id, human_took_over) VALUES ('slack', 'T1', ?, 1)",
        (ROOT,),
    )
    await db.execute(
        "INSERT INTO community_drafts (draft_id, platform, workspace_id, channel_json, thread_id, message_id, "
        "asker_id, answer, citations_json, status, ts) VALUES ('d1', 'slack', 'T1', '{}', ?, ?, 'U1', 'a', '[]', "
        "'pending', 1.0)",
        (ROOT, ROOT),
    )


async def rerun_id_migrations(store: Store) -> list[str]:
    """Forget that the id migrations ran (as on a store from before them) and apply them."""
    await store.db.execute("DELETE FROM schema_migrations WHERE name LIKE '%slack%channel%ids'")
    return await store.migrate()


async def test_legacy_slack_ids_gain_their_channel_everywhere(store: Store) -> None:
    await write_legacy_rows(store)
    applied = await rerun_id_migrations(store)
    assert "core-0002-slack-channel-ids" in applied and "community-0002-slack-channel-ids" in applied

    reply = await store.get_message("slack", "T1", f"CHELP:{REPLY}")
    assert reply is not None and reply.thread_id == f"CHELP:{ROOT}" and reply.reply_to == f"CHELP:{ROOT}"
    assert reply.text == f"text of {REPLY}"
    assert await store.get_message("slack", "T1", REPLY) is None
    loose = await store.get_message("slack", "T1", f"CGENERAL:{LOOSE}")
    assert loose is not None and loose.thread_id is None and loose.reply_to is None
    discord = await store.get_message("discord", "T1", "1234567890")
    assert discord is not None and discord.thread_id == "1234567890"
    assert [r.user_id for r in await store.reactions_for("slack", "T1", f"CHELP:{REPLY}")] == ["U2"]

    async def one(sql: str) -> tuple[object, ...]:
        found = await store.db.fetchall(sql)
        assert len(found) == 1, (sql, found)
        return tuple(found[0])

    assert await one("SELECT thread_id, solved_message_id FROM threads") == (f"CHELP:{ROOT}", f"CHELP:{REPLY}")
    assert sorted(r[0] for r in await store.db.fetchall("SELECT target_id FROM feedback")) == [
        "answer-uuid-1",
        f"msg:CHELP:{REPLY}",
    ]
    assert await one("SELECT message_id, thread_id, answer_id FROM activity_contrib") == (
        f"CHELP:{ROOT}",
        f"CHELP:{ROOT}",
        f"CHELP:{REPLY}",
    )
    assert await one("SELECT message_id FROM activity_reactions") == (f"CHELP:{REPLY}",)
    assert await one("SELECT thread_id FROM qa_answers") == (f"CHELP:{ROOT}",)
    assert await one("SELECT thread_id FROM recommend_shown") == (f"CHELP:{ROOT}",)
    assert await one("SELECT thread_id FROM community_threads") == (f"CHELP:{ROOT}",)
    assert await one("SELECT thread_id, message_id FROM community_drafts") == (f"CHELP:{ROOT}", f"CHELP:{ROOT}")


async def test_rerunning_the_migration_changes_nothing(store: Store) -> None:
    await write_legacy_rows(store)
    await rerun_id_migrations(store)
    before = await store.db.fetchall("SELECT message_id, thread_id, reply_to FROM messages ORDER BY message_id")
    await rerun_id_migrations(store)
    after = await store.db.fetchall("SELECT message_id, thread_id, reply_to FROM messages ORDER BY message_id")
    assert after == before and all(str(r[0]).count(":") <= 1 for r in after)
