"""The recommender's tables (portable SQL, registered with the core migrations at import time)."""

from __future__ import annotations

from bot.store import slack_ids
from bot.store.schema import Migration, register

register(
    Migration(
        "recommend_0001_profiles_feedback",
        (
            """CREATE TABLE IF NOT EXISTS recommend_profiles (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, user_id TEXT NOT NULL,
                vector TEXT NOT NULL, updated_ts DOUBLE PRECISION NOT NULL, events INTEGER NOT NULL,
                PRIMARY KEY (platform, workspace_id, user_id))""",
            """CREATE TABLE IF NOT EXISTS recommend_shown (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, user_id TEXT NOT NULL,
                thread_id TEXT NOT NULL, channel_id TEXT NOT NULL, shown_ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, user_id, thread_id))""",
            """CREATE TABLE IF NOT EXISTS recommend_feedback (
                platform TEXT NOT NULL, workspace_id TEXT NOT NULL, user_id TEXT NOT NULL,
                thread_id TEXT NOT NULL, channel_id TEXT NOT NULL, kind TEXT NOT NULL,
                ts DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (platform, workspace_id, user_id, thread_id, kind))""",
        ),
    )
)
# Slack thread ids became "<channel>:<ts>" (bot.message_ids).
register(
    Migration(
        "recommend_0002_slack_channel_ids",
        (
            slack_ids.by_channel_column("recommend_shown", "thread_id"),
            slack_ids.by_channel_column("recommend_feedback", "thread_id"),
        ),
    )
)
# Indexes leading with the member (``RecommendBrain.member_workspaces``: one Discord id across every
# guild, no workspace to start from). The primary keys lead with the workspace, so each lookup
# scanned every row of the table. One migration per table.
register(
    Migration(
        "recommend_0003_profiles_member_index",
        (
            "CREATE INDEX IF NOT EXISTS recommend_profiles_member ON recommend_profiles (user_id, platform, workspace_id)",
        ),
        concurrent_indexes=True,
    )
)
register(
    Migration(
        "recommend_0004_shown_member_index",
        ("CREATE INDEX IF NOT EXISTS recommend_shown_member ON recommend_shown (user_id, platform, workspace_id)",),
        concurrent_indexes=True,
    )
)
register(
    Migration(
        "recommend_0005_feedback_member_index",
        (
            "CREATE INDEX IF NOT EXISTS recommend_feedback_member ON recommend_feedback (user_id, platform, workspace_id)",
        ),
        concurrent_indexes=True,
    )
)
