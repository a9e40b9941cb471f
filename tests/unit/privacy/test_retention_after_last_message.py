"""The retention purge visits a workspace as long as anything it purges is stored there, not only
while the workspace has messages: a reaction, a thread, a pending change, the activity brain's rows
and the community brain's drafts and ping counters outlive the last message (it expired first)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FakeClock, to_epoch
from bot.config import Settings
from bot.events import ReactionAdded
from bot.testing import ScriptedLLM, channel, command, make_message, user
from bot.testing.builders import BASE_TIME

OLD = to_epoch(BASE_TIME)
# One workspace per table, with only that table's row: each alone must bring the purge there.
ROWS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "reactions": ("(platform, workspace_id, message_id, user_id, emoji, ts)", ("m1", "ana", "+1", OLD)),
    "threads": ("(platform, workspace_id, thread_id, channel_id, title, author_id, ts)", ("t1", "c1", "x", "ana", OLD)),
    "pending_edits": (
        "(platform, workspace_id, message_id, channel_id, author_id, text, ts, noted_ts)",
        ("m1", "c1", "ana", "ana's edit", OLD, OLD),
    ),
    "reaction_removals": (
        "(platform, workspace_id, message_id, user_id, emoji, ts, noted_ts)",
        ("m1", "ana", "+1", OLD, OLD),
    ),
    "activity_contrib": (
        "(platform, workspace_id, message_id, channel_id, author_id, day, ts)",
        ("m1", "c1", "ana", "2025-01-01", OLD),
    ),
    "activity_reactions": ("(platform, workspace_id, message_id, user_id, emoji, ts)", ("m1", "ana", "+1", OLD)),
    "activity_rollup": ("(platform, workspace_id, day, channel_id, user_id)", ("2025-01-01", "c1", "ana")),
    "community_pings": ("(platform, workspace_id, user_id, day, count)", ("ana", "2025-01-01", 1)),
    "community_drafts": (
        "(draft_id, platform, workspace_id, channel_json, thread_id, message_id, asker_id, answer, "
        "citations_json, status, ts)",
        ("{}", "t1", "m1", "ana", "ana's question answered", "[]", "pending", OLD),
    ),
}


def retention(settings: Settings) -> Settings:
    return settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"retention_days": 30})})


@pytest.mark.parametrize("table", sorted(ROWS))
async def test_a_workspace_without_messages_is_purged(make_app: Any, settings: Settings, table: str) -> None:
    clock = FakeClock(BASE_TIME + timedelta(days=400))
    app, _ = await make_app(
        brains=["activity", "community", "qa"],
        settings_override=retention(settings),
        clock=clock,
        llm=ScriptedLLM("NOT_FOUND"),
    )
    columns, values = ROWS[table]
    head = ("d1", "console", f"ws-{table}") if table == "community_drafts" else ("console", f"ws-{table}")
    row = (*head, *values)
    await app.store.db.execute(f"INSERT INTO {table} {columns} VALUES ({', '.join('?' * len(row))})", row)
    await app.brain("core").purge_expired()
    assert await app.store.db.fetchall(f"SELECT * FROM {table}") == []


async def test_rows_of_a_workspace_go_once_its_last_message_expired(make_app: Any, settings: Settings) -> None:
    clock = FakeClock(BASE_TIME + timedelta(days=400))
    app, adapter = await make_app(
        brains=["activity", "qa"], settings_override=settings, clock=clock, llm=ScriptedLLM("NOT_FOUND")
    )
    await adapter.inject(make_message("bob's only message", author="bob", message_id="m1"))
    await adapter.inject(ReactionAdded(channel("general"), "m1", user("ana"), "+1", BASE_TIME + timedelta(days=200)))
    await adapter.inject(command("guildhall config", "set retention_days 300", admin=True))
    await app.bus.drain()
    await app.brain("core").purge_expired()
    assert await app.store.db.fetchall("SELECT * FROM messages") == []
    assert await app.store.db.fetchall("SELECT user_id FROM reactions") == [("ana",)]  # younger than the cutoff
    await adapter.inject(command("guildhall config", "set retention_days 30", admin=True))
    await app.bus.drain()
    await app.brain("core").purge_expired()
    for table in ("reactions", "activity_rollup", "activity_reactions", "activity_contrib"):
        assert await app.store.db.fetchall(f"SELECT * FROM {table}") == [], table
